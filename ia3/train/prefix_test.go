package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/tokenizer"
)

// recordingEncoder wraps an encoder and remembers the longest text it
// was asked to encode.
type recordingEncoder struct {
	encoder
	longest int
}

func (r *recordingEncoder) encode(text string, special bool) ([]int32, int, error) {
	r.longest = max(r.longest, len(text))
	return r.encoder.encode(text, special)
}

// longText returns about n bytes of words, punctuation, digits, accents,
// CJK, emoji and runs of spaces, drawn from seed.
func longText(n int, seed uint64) string {
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Résumé", "東京", "😀", "naïve",
		"don't", "it's", "1234567", "  ", "\n", "\t", ",", ".", "!?", "e\u0301", "ﬁ", "sat", "on", "mat", "<s>", "a"}
	r := rand.New(rand.NewPCG(seed, 1))
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(words[r.IntN(len(words))])
		if r.IntN(4) > 0 {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

// testTokenizers returns the byte tokenizer, the shared fixture
// tokenizers when present, and a byte-level BPE fixture with a template
// post-processor adding <|endoftext|> before and after (a trailing
// special token).
func testTokenizers(t *testing.T) map[string]*tokenizer.Tokenizer {
	t.Helper()
	out := map[string]*tokenizer.Tokenizer{"bytes": mustByteTokenizer(t)}
	root := modeltest.Path(t, "peft/tokenizers")
	kinds, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, k := range kinds {
		path := filepath.Join(root, k.Name(), "tokenizer.json")
		tok, err := tokenizer.Load(path)
		require.NoError(t, err)
		out[k.Name()] = tok
		if k.Name() != "bytelevel_bpe" {
			continue
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(data, &raw))
		ids := map[string]float64{}
		for _, a := range raw["added_tokens"].([]any) {
			at := a.(map[string]any)
			ids[at["content"].(string)] = at["id"].(float64)
		}
		eot, ok := ids["<|endoftext|>"]
		require.True(t, ok)
		raw["post_processor"] = map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0.0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0.0}},
				map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0.0}}},
			"pair": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0.0}}},
			"special_tokens": map[string]any{
				"<|endoftext|>": map[string]any{"id": "<|endoftext|>", "ids": []any{eot}, "tokens": []any{"<|endoftext|>"}}}}
		data, err = json.Marshal(raw)
		require.NoError(t, err)
		tok, err = tokenizer.FromJSON("bytelevel_bpe+template", data)
		require.NoError(t, err)
		out["bytelevel_bpe+template"] = tok
	}
	return out
}

// TestEncodeHeadMatchesWholeText checks that prefix encoding keeps
// exactly the ids that truncating the whole text's encoding keeps, for
// every fixture tokenizer, with and without special tokens, at several
// truncation lengths and on texts whose prefixes cut words, graphemes and
// runs of spaces.
func TestEncodeHeadMatchesWholeText(t *testing.T) {
	cfg := &model.Config{VocabSize: 1 << 20, PadTokenID: -1}
	for name, tok := range testTokenizers(t) {
		enc := newHFEncoder(tok, cfg)
		for seed := range uint64(3) {
			text := longText(40000+int(seed)*977, seed)
			for _, special := range []bool{true, false} {
				whole, wtrail, err := enc.encode(text, special)
				require.NoError(t, err)
				for _, n := range []int{2, 7, 64, 300, 1000} {
					t.Run(fmt.Sprintf("%s/seed%d/special=%v/n=%d", name, seed, special, n), func(t *testing.T) {
						rec := &recordingEncoder{encoder: enc}
						head, htrail, err := encodeHead(rec, text, special, n)
						require.NoError(t, err)
						assert.Equal(t, truncate(whole, wtrail, n), truncate(head, htrail, n))
						assert.Equal(t, whole[:n], head[:n], "the first n ids, as a prompt before its completion uses them")
						assert.Less(t, rec.longest, len(text), "encoded a prefix, not the whole text")
					})
				}
			}
		}
	}
}

// TestTokenizeBoundsEncodedText checks that a line far longer than
// --max-len is never tokenised whole: an 8 MB text truncated to 32 ids
// encodes at most a few kilobytes (tokenising the whole line cost
// ~250–300 bytes of memory per byte of text).
func TestTokenizeBoundsEncodedText(t *testing.T) {
	cfg := &model.Config{VocabSize: 256, PadTokenID: -1}
	rec := &recordingEncoder{encoder: newHFEncoder(mustByteTokenizer(t), cfg)}
	text := strings.Repeat("the cat sat on the mat. ", 8<<20/24)
	recs := []record{{source: "big:1", text: text}, {source: "big:2", isPrompt: true, prompt: "ab", completion: text}}
	ds, err := tokenize(recs, taskCausal, rec, 32, cfg, false)
	require.NoError(t, err)
	assert.LessOrEqual(t, rec.longest, 64<<10)
	want := make([]int32, 32)
	for i := range want {
		want[i] = int32(text[i])
	}
	assert.Equal(t, want, ds.examples[0].ids)
	assert.Equal(t, append([]int32{'a', 'b'}, want[:30]...), ds.examples[1].ids)
}
