package model

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
)

// testBackend opens the CPU backend, closed when the test ends.
func testBackend(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}
