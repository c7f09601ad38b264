//go:build unix

package regular

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheck accepts a file and a link to it, and refuses a directory, a
// FIFO and a missing path with errors naming them.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	assert.NoError(t, Check(file))
	assert.NoError(t, Check(link))
	for _, tc := range []struct{ path, want string }{
		{dir, dir + " is a directory, not a regular file"},
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
	} {
		err := Check(tc.path)
		assert.ErrorIs(t, err, fs.ErrInvalid)
		assert.EqualError(t, err, tc.want)
	}
	assert.ErrorIs(t, Check(filepath.Join(dir, "missing")), fs.ErrNotExist)
}
