package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/tokenizer"
)

// chatTemplate renders "role: content" lines and "assistant:" as the
// generation prompt.
const chatTemplate = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"

// chatDir is the gpt2 fixture model with a tokenizer_config.json holding
// chatTemplate and eos_token eos.
func chatDir(t *testing.T, eos string) string {
	t.Helper()
	dir, _ := tinyModelDir(t)
	cfg, err := json.Marshal(map[string]any{"chat_template": chatTemplate, "eos_token": eos})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644))
	return dir
}

// generated is generate --json's output.
type generated struct {
	Prompt    string  `json:"prompt"`
	PromptIDs []int32 `json:"prompt_ids"`
	IDs       []int32 `json:"ids"`
	Text      string  `json:"text"`
}

// TestGenerateChat renders --chat and --message with the model's chat
// template, encodes it without added special tokens, generates what
// model.Generate generates from those ids, and stops at the template's
// eos_token.
func TestGenerateChat(t *testing.T) {
	dir := chatDir(t, "</s>")
	conv := filepath.Join(t.TempDir(), "chat.json")
	require.NoError(t, os.WriteFile(conv, []byte(`{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "the dog"}]}`), 0o644))
	r := run(t, "generate", "--model", dir, "--device", "cpu", "--chat", conv, "--message", "assistant=a cat", "--message", "user=and=more",
		"--max-new-tokens", "4", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got generated
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, "system: be brief\nuser: the dog\nassistant: a cat\nuser: and=more\nassistant:", got.Prompt)

	tok, err := tokenizer.LoadDir(dir)
	require.NoError(t, err)
	enc, err := tok.EncodeNoSpecial(got.Prompt)
	require.NoError(t, err)
	want := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		want[i] = int32(id)
	}
	assert.Equal(t, want, got.PromptIDs, "no special tokens added to the rendered chat")

	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	m, err := model.Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer m.Free()
	eos, err := model.EOSTokenIDs(m.Config())
	require.NoError(t, err)
	out, err := m.Generate(context.Background(), [][]int32{want}, model.GenerateOptions{MaxNewTokens: 4, EOS: append(eos, 1)})
	require.NoError(t, err)
	require.Equal(t, out[0], got.IDs)

	// With the first generated token as the template's eos_token,
	// generation stops right after it.
	first, ok := tok.IDToToken(int(got.IDs[0]))
	require.True(t, ok)
	r = run(t, "generate", "--model", chatDir(t, first), "--device", "cpu", "--chat", conv, "--message", "assistant=a cat", "--message", "user=and=more",
		"--max-new-tokens", "4", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var stopped generated
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &stopped))
	assert.Equal(t, got.IDs[:1], stopped.IDs)

	// Streaming prints the reply only.
	r = run(t, "generate", "--model", dir, "--device", "cpu", "--message", "user=the dog", "--max-new-tokens", "3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "user:")
}

func TestGenerateChatErrors(t *testing.T) {
	dir := chatDir(t, "</s>")
	plain, _ := tinyModelDir(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[{"role": "user", "content": 3}]`), 0o644))
	noList := filepath.Join(t.TempDir(), "obj.json")
	require.NoError(t, os.WriteFile(noList, []byte(`{"turns": []}`), 0o644))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"prompt and chat", []string{"--model", dir, "--prompt", "x", "--message", "user=hi"}, exitUsage, "needs --prompt, or a conversation (--chat, --message), not both"},
		{"neither", []string{"--model", dir}, exitUsage, "needs --prompt, or a conversation"},
		{"bad message flag", []string{"--model", dir, "--message", "hello"}, exitUsage, `--message "hello": want ROLE=CONTENT`},
		{"bad message in file", []string{"--model", dir, "--chat", bad}, 1, bad + `: messages[0]: field "content" must be a string: 3`},
		{"object without messages", []string{"--model", dir, "--chat", noList}, 1, noList + `: want {"messages": [...]}`},
		{"missing file", []string{"--model", dir, "--chat", filepath.Join(t.TempDir(), "none.json")}, 1, "none.json"},
		{"no template", []string{"--model", plain, "--message", "user=hi"}, 1, "--chat: chat: " + plain + ": no tokenizer_config.json or chat_template.jinja, so no chat_template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, append([]string{"generate", "--device", "cpu"}, tt.args...)...)
			assert.Equal(t, tt.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
		})
	}
}
