package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// byteTokenizerJSON is a byte-level BPE tokenizer.json without merges:
// each byte of the text is one token, with ids 0–255 (GPT-2's byte-to-
// character table as the vocabulary), so it fits the fixtures' 256-token
// models.
func byteTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	vocab := map[string]int{}
	for b, r := range byteChars() {
		vocab[string(r)] = b
	}
	tok := map[string]any{
		"version":        "1.0",
		"added_tokens":   []any{},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{}},
	}
	data, err := json.Marshal(tok)
	require.NoError(t, err)
	return data
}

// byteChars is GPT-2's bytes_to_unicode table: printable bytes map to
// themselves, the rest to code points from 256 up.
func byteChars() []rune {
	out := make([]rune, 256)
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// modelDir returns a directory holding fixture case name's base model
// (linked) and the byte tokenizer; the test is skipped without fixtures.
func modelDir(t *testing.T, name string) string {
	t.Helper()
	var src string
	for _, c := range modeltest.Cases(t) {
		if c.Name == name {
			src = filepath.Join(c.Dir, "base")
		}
	}
	if src == "" {
		t.Skipf("no fixture case %q", name)
	}
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), byteTokenizerJSON(t), 0o644))
	return dir
}

// writeJSONL writes lines to a file in a temp dir and returns its path.
func writeJSONL(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// textLines returns n {"text"} records of short sentences.
func textLines(n int) []string {
	words := []string{"the cat sat", "a dog ran", "birds sing", "fish swim", "the sun shines", "rain falls"}
	out := make([]string, n)
	for i := range out {
		b, _ := json.Marshal(map[string]string{"text": words[i%len(words)] + " and " + words[(i*5+1)%len(words)] + "."})
		out[i] = string(b)
	}
	return out
}
