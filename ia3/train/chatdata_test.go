package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/tokenizer"
)

// Chat templates of the tests: plain-text markers, so that the byte
// tokenizer (one token per byte) makes every mask readable.
const (
	// prefixTemplate has no {% generation %} block: masks come from
	// rendering prefixes.
	prefixTemplate = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}|{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
	// generationTemplate renders the same text and marks the assistant's
	// content and EOS (not the separator) with {% generation %}.
	generationTemplate = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
)

// piece is a run of rendered text and whether the loss counts it.
type piece struct {
	text    string
	counted bool
}

// byteExample builds the ids and labels the byte tokenizer gives pieces.
func byteExample(pieces ...piece) (ids, labels []int32) {
	for _, p := range pieces {
		for _, b := range []byte(p.text) {
			ids = append(ids, int32(b))
			if p.counted {
				labels = append(labels, int32(b))
			} else {
				labels = append(labels, model.IgnoreIndex)
			}
		}
	}
	return ids, labels
}

// chatEnc returns the chat encoder of tok with template src.
func chatEnc(t testing.TB, tok *tokenizer.Tokenizer, src string, tokens map[string]string) *hfChatEncoder {
	t.Helper()
	tmpl, err := chat.New(src, tokens)
	require.NoError(t, err)
	return &hfChatEncoder{hfEncoder: newHFEncoder(tok, &model.Config{PadTokenID: -1, VocabSize: 1 << 20}), tmpl: tmpl}
}

// decodeMessages decodes a JSON list of messages.
func decodeMessages(t *testing.T, s string) []chat.Message {
	t.Helper()
	msgs, err := chat.DecodeMessages([]byte(s))
	require.NoError(t, err)
	return msgs
}

// configTemplate reads a tokenizer_config.json of model/chat's tests.
func configTemplate(t testing.TB, name string) *chat.Template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "model", "chat", "testdata", "configs", name+".json"))
	require.NoError(t, err)
	tmpl, err := chat.FromConfig(name, data)
	require.NoError(t, err)
	return tmpl
}

func TestChatMasks(t *testing.T) {
	tok := mustByteTokenizer(t)
	specials := map[string]string{"bos_token": "^", "eos_token": "$"}
	conv := []chat.Message{
		{Role: "system", Content: "Be kind."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello!"},
		{Role: "user", Content: "Bye é"},
		{Role: "assistant", Content: "Ciao ü"},
	}
	// Prefix rendering: a turn runs from after "<assistant>" to the end of
	// the conversation rendered up to it, its separator included.
	prefixWant := []piece{
		{"^<system>Be kind.|<user>Hi|<assistant>", false}, {"Hello!$|", true},
		{"<user>Bye é|<assistant>", false}, {"Ciao ü$|", true},
	}
	// {% generation %}: exactly the marked text.
	genWant := []piece{
		{"^<system>Be kind.|<user>Hi|<assistant>", false}, {"Hello!$", true},
		{"|<user>Bye é|<assistant>", false}, {"Ciao ü$", true}, {"|", false},
	}
	qwenEnc := &hfChatEncoder{hfEncoder: newHFEncoder(tok, &model.Config{PadTokenID: -1}), tmpl: configTemplate(t, "qwen3")}
	// Qwen3 drops the think block of past turns, so the first turn ends
	// at its content and EOS; the last keeps its empty think block.
	qwenWant := []piece{
		{"<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", false},
		{"Hello!<|im_end|>", true},
		{"\n<|im_start|>user\nBye é<|im_end|>\n<|im_start|>assistant\n", false},
		{"<think>\n\n</think>\n\nCiao ü<|im_end|>\n", true},
	}
	// Tool calls: the first answer is a call with empty content; Qwen3
	// renders it without a think block once the conversation goes on, so
	// it runs to the first EOS, before the tool's output.
	toolConv := decodeMessages(t, `[{"role": "user", "content": "Weather?"},
		{"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": {"city": "Paris", "n": 2}}}]},
		{"role": "tool", "content": "21"},
		{"role": "assistant", "content": "21 °C.", "reasoning_content": "Easy."}]`)
	qwenToolWant := []piece{
		{"<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n", false},
		{"<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": \"Paris\", \"n\": 2}}\n</tool_call><|im_end|>", true},
		{"\n<|im_start|>user\n<tool_response>\n21\n</tool_response><|im_end|>\n<|im_start|>assistant\n", false},
		{"<think>\nEasy.\n</think>\n\n21 °C.<|im_end|>\n", true},
	}
	tests := []struct {
		name   string
		enc    *hfChatEncoder
		conv   []chat.Message
		maxLen int
		want   []piece
	}{
		{"prefixes", chatEnc(t, tok, prefixTemplate, specials), conv, 1000, prefixWant},
		{"generation blocks", chatEnc(t, tok, generationTemplate, specials), conv, 1000, genWant},
		{"qwen3 history", qwenEnc, conv, 1000, qwenWant},
		{"qwen3 tool calls", qwenEnc, toolConv, 1000, qwenToolWant},
		{"truncated inside the first answer", chatEnc(t, tok, prefixTemplate, specials), conv, len(prefixWant[0].text) + 3, []piece{
			prefixWant[0], {"Hel", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := tokenizeChat(tt.conv, tt.enc, tt.maxLen)
			require.NoError(t, err)
			ids, labels := byteExample(tt.want...)
			assert.Equal(t, ids, ex.ids)
			assert.Equal(t, labels, ex.labels)
		})
	}
}

// TestChatMaskBPE masks a conversation tokenised by a byte-level BPE
// whose <|endoftext|> is one added token: the rendered text is encoded
// without added special tokens, and the counted ids decode to the
// assistant's turns.
func TestChatMaskBPE(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join(modeltest.Path(t, "peft/tokenizers/bytelevel_bpe"), "tokenizer.json"))
	require.NoError(t, err)
	enc := chatEnc(t, tok, generationTemplate, map[string]string{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
	conv := []chat.Message{{Role: "user", Content: "the cat sat"}, {Role: "assistant", Content: "on the mat"}}
	ex, err := tokenizeChat(conv, enc, 1000)
	require.NoError(t, err)
	eot, ok := tok.TokenToID("<|endoftext|>")
	require.True(t, ok)
	assert.Equal(t, int32(eot), ex.ids[0], "the template's BOS, once")
	assert.NotEqual(t, int32(eot), ex.ids[1])
	var counted []int
	for i, l := range ex.labels {
		if l != model.IgnoreIndex {
			assert.Equal(t, ex.ids[i], l)
			counted = append(counted, int(l))
		}
	}
	text, err := tok.Decode(counted, false)
	require.NoError(t, err)
	assert.Equal(t, "on the mat<|endoftext|>", text)
	assert.Equal(t, int32(eot), ex.ids[len(ex.ids)-2], "the EOS is one token, before the last separator")
}

// TestTokenMask checks transformers' assistant-mask rules at the edges.
func TestTokenMask(t *testing.T) {
	offsets := [][2]int{{0, 2}, {2, 4}, {4, 6}, {6, 8}}
	text := "aabbccdd"
	tests := []struct {
		name  string
		spans []chat.Span
		want  []bool
	}{
		{"inside tokens", []chat.Span{{Start: 3, End: 5}}, []bool{false, true, true, false}},
		{"token boundaries", []chat.Span{{Start: 2, End: 6}}, []bool{false, true, true, false}},
		{"empty span", []chat.Span{{Start: 3, End: 3}}, []bool{false, false, false, false}},
		{"last char in token 0 runs to the end", []chat.Span{{Start: 0, End: 1}}, []bool{true, true, true, true}},
		{"start past the tokens stops", []chat.Span{{Start: 8, End: 9}, {Start: 2, End: 4}}, []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tokenMask(text+" ", tt.spans, offsets))
		})
	}
}

func TestChatDataErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"missing role", `{"messages": [{"content": "x"}]}`, `:1: field "messages": messages[0]: missing field "role" (have "content")`},
		{"content not a string", `{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ["b"]}]}`, `:1: field "messages": messages[1]: field "content" must be a string: ["b"]`},
		{"null content", `{"messages": [{"role": "assistant", "content": null}]}`, `:1: field "messages": messages[0]: field "content" must be a string: null`},
		{"no assistant", `{"messages": [{"role": "user", "content": "a"}]}`, `:1: no assistant turn in "messages"`},
		{"not a list", `{"messages": "hi"}`, `:1: field "messages": want a list`},
		{"empty", `{"messages": []}`, `:1: field "messages": the list of messages is empty`},
		{"message not an object", `{"messages": ["hi"]}`, `:1: field "messages": messages[0] must be an object`},
		{"duplicate key", `{"messages": [{"role": "assistant", "content": "a", "role": "user"}]}`, `:1: field "messages": messages[0]: duplicate key "role"`},
		{"other fields", `{"messages": [{"role": "assistant", "content": "a"}], "text": "x"}`, `:1: field "text" beside "messages"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readRecords(strings.NewReader(tt.line+"\n"), "chat.jsonl", taskCausal, MaxLineBytes, func(record) error { return nil })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "chat.jsonl"+tt.want)
		})
	}
}

// chatModelDir is a fixture model directory with the byte tokenizer and
// a tokenizer_config.json holding template (none when empty).
func chatModelDir(t *testing.T, template string) string {
	t.Helper()
	dir := modelDir(t, "gpt2")
	if template != "" {
		cfg, err := json.Marshal(map[string]any{"chat_template": template, "bos_token": "^", "eos_token": "$"})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644))
	}
	return dir
}

// chatLines returns n chat lines.
func chatLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		b, _ := json.Marshal(map[string]any{"messages": []map[string]string{
			{"role": "user", "content": textLines(n)[i]},
			{"role": "assistant", "content": "ok " + strings.Repeat("!", i%3)},
		}})
		out[i] = string(b)
	}
	return out
}

func TestChatTrainSmoke(t *testing.T) {
	b := openCPU(t)
	dir := chatModelDir(t, prefixTemplate)
	data := writeJSONL(t, chatLines(6)...)
	out := t.TempDir()
	res, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: data, EvalFile: data, OutDir: out, Backend: b, BatchSize: 2, Epochs: 2, LR: 0.05, Seed: 1, NoPlot: true, MaxLength: 64})
	require.NoError(t, err)
	assert.Equal(t, 6, res.Steps)
	assert.Equal(t, 6, res.TrainExamples)
	assert.Equal(t, 6, res.EvalExamples)
	require.NotEmpty(t, res.Evals)
	for _, l := range res.Losses {
		assert.False(t, math.IsNaN(l) || math.IsInf(l, 0), "loss %v", l)
	}
	assert.Less(t, res.Losses[len(res.Losses)-1], res.Losses[0])
	assert.FileExists(t, filepath.Join(out, ia3.WeightsFile))
}

func TestChatTrainErrors(t *testing.T) {
	b := openCPU(t)
	tests := []struct{ name, template, line, want string }{
		{"no template", "", `{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}`, ":1: chat line: chat: "},
		{"template raises", "{{ raise_exception('System role not supported') }}", `{"messages": [{"role": "assistant", "content": "b"}]}`, ":1: chat: render: System role not supported"},
		{"assistant truncated away", prefixTemplate, `{"messages": [{"role": "user", "content": "` + strings.Repeat("a", 80) + `"}, {"role": "assistant", "content": "b"}]}`, ":1: no assistant token to predict after truncation to 64 tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writeJSONL(t, `{"text": "plain lines still train"}`, tt.line)
			_, err := Run(context.Background(), Options{ModelDir: chatModelDir(t, tt.template), TrainFile: data, OutDir: t.TempDir(), Backend: b, MaxLength: 64})
			require.Error(t, err)
			assert.Contains(t, err.Error(), data+strings.Replace(tt.want, ":1:", ":2:", 1))
		})
	}
}
