package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenizersDir returns the tokenizer fixtures' directory (see
// modeltest.Path).
func tokenizersDir(t testing.TB) string { return modeltest.Path(t, "peft/tokenizers") }

// expectedFile is the layout of a tokenizer fixture's expected.json.
type expectedFile struct {
	Cases []struct {
		Text    string   `json:"text"`
		IDs     []int    `json:"ids"`
		Tokens  []string `json:"tokens"`
		Offsets [][2]int `json:"offsets"`
		Decoded string   `json:"decoded"`
	} `json:"cases"`
}

// TestFixtures walks every tokenizer kind under the shared fixtures and
// checks ids, tokens, offsets and decoded text of every case exactly.
func TestFixtures(t *testing.T) {
	root := tokenizersDir(t)
	kinds, err := os.ReadDir(root)
	require.NoError(t, err)
	require.NotEmpty(t, kinds)
	for _, kind := range kinds {
		if !kind.IsDir() {
			continue
		}
		t.Run(kind.Name(), func(t *testing.T) { checkDir(t, filepath.Join(root, kind.Name())) })
	}
}

// checkDir checks the tokenizer.json of dir against the cases of its
// expected.json.
func checkDir(t *testing.T, dir string) {
	t.Helper()
	tok, err := Load(filepath.Join(dir, "tokenizer.json"))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	var exp expectedFile
	require.NoError(t, json.Unmarshal(raw, &exp))
	checkCases(t, tok, exp)
}

// checkCases checks ids, tokens, offsets and decoded text of every case
// exactly.
func checkCases(t *testing.T, tok *Tokenizer, exp expectedFile) {
	t.Helper()
	require.NotEmpty(t, exp.Cases)
	for _, c := range exp.Cases {
		t.Run(c.Text, func(t *testing.T) {
			enc, err := tok.Encode(c.Text)
			require.NoError(t, err)
			assert.Equal(t, c.Tokens, nonNil(enc.Tokens), "tokens")
			assert.Equal(t, c.IDs, nonNil(enc.IDs), "ids")
			assert.Equal(t, c.Offsets, nonNil(enc.Offsets), "offsets")
			dec, err := tok.Decode(c.IDs, true)
			require.NoError(t, err)
			assert.Equal(t, c.Decoded, dec, "decoded")
		})
	}
}

// nonNil turns a nil slice into an empty one so that it compares equal to
// an empty JSON array.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
