package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/gguf"
	"github.com/ia3/ia3/model/modeltest"
)

// ggufFile is a vocabulary-only GGUF file written by llama.cpp's gguf-py
// (tools/gguf_fixtures.py) from a tokenizer fixture.
func ggufFile(t *testing.T, name string) string {
	t.Helper()
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	return filepath.Join(root, "testdata", "gguf", name)
}

// TestGGUFTokenizers loads the tokenizers gguf-py stored from the
// bytelevel_bpe and sentencepiece_bpe fixtures and checks their ids
// against what Hugging Face's tokenizers gave for the fixture texts. A
// SentencePiece ("llama") GGUF tokenizer prepends "▁" to every text as
// SentencePiece, llama.cpp and transformers' GGUF loader do; the fixture's
// Metaspace pre-tokenizer does not before a leading space, so texts that
// start with a space are checked for that one extra "▁" (and decode back to
// the text) instead.
func TestGGUFTokenizers(t *testing.T) {
	for _, c := range []struct {
		file, fixture string
		bos, eos      string
	}{
		{"vocab-gpt2.gguf", "bytelevel_bpe", "<|endoftext|>", "<|endoftext|>"},
		{"vocab-llama.gguf", "sentencepiece_bpe", "<s>", "</s>"},
	} {
		t.Run(c.file, func(t *testing.T) {
			tok, err := LoadDir(ggufFile(t, c.file))
			require.NoError(t, err)
			bos, ok := tok.BOS()
			require.True(t, ok)
			assert.Equal(t, c.bos, bos.Token)
			eos, ok := tok.EOS()
			require.True(t, ok)
			assert.Equal(t, c.eos, eos.Token)
			raw, err := os.ReadFile(filepath.Join(tokenizersDir(t), c.fixture, "expected.json"))
			require.NoError(t, err)
			var exp expectedFile
			require.NoError(t, json.Unmarshal(raw, &exp))
			for _, k := range exp.Cases {
				enc, err := tok.Encode(k.Text)
				require.NoError(t, err)
				ids, toks, decoded := k.IDs, k.Tokens, k.Decoded
				if c.fixture == "sentencepiece_bpe" && strings.HasPrefix(k.Text, " ") {
					ids, toks = append([]int{tok.mustID(t, "▁")}, ids...), append([]string{"▁"}, toks...)
					decoded = k.Text // the Strip decoder removes the prepended space only
				}
				assert.Equal(t, ids, nonNil(enc.IDs), "%q", k.Text)
				assert.Equal(t, toks, nonNil(enc.Tokens), "%q", k.Text)
				dec, err := tok.Decode(enc.IDs, true)
				require.NoError(t, err)
				assert.Equal(t, decoded, dec, "%q decoded", k.Text)
			}
		})
	}
}

// mustID returns a token's id, failing t when it is not in the vocabulary.
func (tk *Tokenizer) mustID(t *testing.T, token string) int {
	t.Helper()
	id, ok := tk.TokenToID(token)
	require.True(t, ok, token)
	return id
}

// TestGGUFSpecialTemplate: add_bos_token and add_eos_token put BOS before
// and EOS after the text, as llama.cpp does.
func TestGGUFSpecialTemplate(t *testing.T) {
	for _, c := range []struct {
		bos, eos bool
		want     []int
	}{{false, false, []int{2}}, {true, false, []int{0, 2}}, {false, true, []int{2, 1}}, {true, true, []int{0, 2, 1}}} {
		f, err := gguf.NewMetadata("tiny", map[string]any{
			"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": []string{"<s>", "</s>", "ab", "a", "b"},
			"tokenizer.ggml.token_type": []int32{3, 3, 1, 1, 1}, "tokenizer.ggml.merges": []string{"a b"},
			"tokenizer.ggml.bos_token_id": uint32(0), "tokenizer.ggml.eos_token_id": uint32(1),
			"tokenizer.ggml.add_bos_token": c.bos, "tokenizer.ggml.add_eos_token": c.eos})
		require.NoError(t, err)
		g, err := f.TokenizerJSON()
		require.NoError(t, err)
		tok, err := FromJSON("tiny", g.JSON)
		require.NoError(t, err)
		enc, err := tok.Encode("ab")
		require.NoError(t, err)
		assert.Equal(t, c.want, enc.IDs, "bos %v eos %v", c.bos, c.eos)
	}
}
