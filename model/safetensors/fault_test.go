//go:build unix

package safetensors

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTruncatedWhileMapped maps a file, truncates it under the mapping and
// reads: every accessor returns ErrCorrupt naming the file and tensor, where
// the read used to kill the process with SIGBUS.
func TestTruncatedWhileMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	const n = 1 << 16 // several pages, so the tensor's pages lie past the new end
	require.NoError(t, Write(path, []Tensor{
		F32Tensor("w", []int{n}, make([]float32, n)),
		{Name: "ids", DType: I64, Shape: []int{n}, Data: make([]byte, 8*n)},
	}, nil))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	require.True(t, f.mapped, "unix maps the file")
	require.NoError(t, os.Truncate(path, 64))

	for _, tc := range []struct {
		tensor string
		read   func(string) error
	}{
		{"w", func(n string) error { _, err := f.Bytes(n); return err }},
		{"w", func(n string) error { _, err := f.Float32(n); return err }},
		{"ids", func(n string) error { _, err := f.Int64(n); return err }},
		{"ids", func(n string) error { _, err := f.Int32(n); return err }},
	} {
		err := tc.read(tc.tensor)
		require.ErrorIs(t, err, ErrFault)
		assert.ErrorContains(t, err, path)
		assert.ErrorContains(t, err, `tensor "`+tc.tensor+`"`)
	}
}

// TestOpenRefusesNonRegular checks that a FIFO (which would block the
// open until a writer comes) and a directory are refused by name.
func TestOpenRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.safetensors")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	for _, tc := range []struct{ path, want string }{
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{dir, dir + " is a directory, not a regular file"},
	} {
		f, err := Open(tc.path)
		assert.Nil(t, f)
		assert.ErrorIs(t, err, fs.ErrInvalid)
		assert.EqualError(t, err, "safetensors: "+tc.want)
	}
}
