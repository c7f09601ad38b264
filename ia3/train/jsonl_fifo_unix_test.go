//go:build unix

package train

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadJSONLRefusesFIFO: a named pipe as --data used to block the open
// for ever, waiting for a writer; it is refused by name instead.
func TestReadJSONLRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.jsonl")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	err := eachRecord(path, "CAUSAL_LM", MaxLineBytes, func(record) error { return nil })
	require.Error(t, err)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "not a regular file")
}
