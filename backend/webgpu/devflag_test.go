//go:build cgo && !nowebgpu

package webgpu

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorFlag sets a registered bit from the host (as a kernel would on
// the device) and checks that the next download reports it once.
func TestErrorFlag(t *testing.T) {
	b, err := Open(context.Background(), "gpu:0")
	if err != nil {
		if os.Getenv("IA3_REQUIRE_GPU") == "1" {
			t.Fatalf("no WebGPU adapter: %v", err)
		}
		t.Skipf("no WebGPU adapter: %v", err)
	}
	defer b.Close()
	flag, bit, err := b.errorFlag("Gather", "an id is out of range")
	require.NoError(t, err)
	_, bit2, err := b.errorFlag("Other", "bad")
	require.NoError(t, err)
	assert.Equal(t, uint32(1), bit)
	assert.Equal(t, uint32(2), bit2)
	require.NoError(t, b.dev.Write(flag.buf, 0, []byte{byte(bit), 0, 0, 0}))

	x, err := b.FromFloat32([]float32{1}, 1)
	require.NoError(t, err)
	_, err = b.ToFloat32(x)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Gather: an id is out of range (reported by the device)")
	assert.NotContains(t, err.Error(), "Other")

	_, _, err = b.errorFlag("Gather", "an id is out of range")
	require.NoError(t, err)
	require.NoError(t, b.Sync(), "the flag was cleared after it was reported")
}
