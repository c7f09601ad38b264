package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/tokenizer"
)

// modelDir returns a directory holding fixture case name's base model
// (linked) and the byte tokenizer (see modeltest.NamedCase).
func modelDir(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(modeltest.NamedCase(t, name).Dir, "base")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), byteTokenizer(t), 0o644))
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

// byteTokenizer returns the demo's byte-level tokenizer.json: token ids
// are byte values, so it fits the fixtures' 256-token models.
func byteTokenizer(t testing.TB) []byte {
	t.Helper()
	data, err := byteTokenizerJSON()
	require.NoError(t, err)
	return data
}

// mustByteTokenizer parses the byte-level tokenizer.
func mustByteTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.FromJSON("byte tokenizer", byteTokenizer(t))
	require.NoError(t, err)
	return tok
}
