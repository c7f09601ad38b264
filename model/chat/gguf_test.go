package chat

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// TestLoadGGUF renders the template gguf-py stored in vocab-llama.gguf
// (tools/gguf_fixtures.py) and refuses a file without one.
func TestLoadGGUF(t *testing.T) {
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	dir := filepath.Join(root, "testdata", "gguf")
	tmpl, err := LoadDir(filepath.Join(dir, "vocab-llama.gguf"))
	require.NoError(t, err)
	bos, ok := tmpl.Token("bos_token")
	assert.True(t, ok)
	assert.Equal(t, "<s>", bos)
	out, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "<s>user: hi</s><s>assistant: yo</s>", out.Text)

	_, err = LoadDir(filepath.Join(dir, "vocab-gpt2.gguf"))
	require.ErrorIs(t, err, ErrNoTemplate)
	assert.Contains(t, err.Error(), "vocab-gpt2.gguf")
}
