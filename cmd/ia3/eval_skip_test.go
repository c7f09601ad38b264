package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvalSkipsEmptyExamples evaluates data holding an example with no
// token to predict: it is skipped and counted, not an error; data with
// nothing else fails with exit code 1 and one line.
func TestEvalSkipsEmptyExamples(t *testing.T) {
	dir, data := tinyModelDir(t)
	body, err := os.ReadFile(data)
	require.NoError(t, err)
	mixed := filepath.Join(t.TempDir(), "mixed.jsonl")
	require.NoError(t, os.WriteFile(mixed, append([]byte("\uFEFF{\"text\": \"\"}\n"), body...), 0o644))
	r := run(t, "eval", "--model", dir, "--data", mixed, "--device", "cpu", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var e evalJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e))
	assert.Equal(t, 16, e.Examples)
	assert.Equal(t, 1, e.Skipped)
	assert.Contains(t, r.stderr, "skipped 1 examples with no token to predict")

	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, []byte("{\"text\": \"\"}\n"), 0o644))
	r = run(t, "eval", "--model", dir, "--data", empty, "--device", "cpu")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no example has a token to predict (all 1 skipped; the first: "+empty+":1: no token to predict")
}
