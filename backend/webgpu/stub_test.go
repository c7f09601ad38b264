//go:build !cgo || nowebgpu

package webgpu

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/gpu"
)

// TestStubSaysWhy checks that a pure-Go build lists one GPU entry that
// cannot compute, with the reason, and that every way of opening it
// returns gpu.ErrNotBuilt.
func TestStubSaysWhy(t *testing.T) {
	ctx := context.Background()
	assert.False(t, gpu.Built)
	ds, err := Provider{}.Devices(ctx)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, "gpu", ds[0].Spec)
	assert.False(t, ds[0].Compute)
	assert.Equal(t, "WebGPU not built: this binary was built without cgo (CGO_ENABLED=0) or with -tags nowebgpu", ds[0].Reason)

	b, err := backend.Open(ctx, "gpu:0")
	assert.Nil(t, b)
	assert.ErrorIs(t, err, gpu.ErrNotBuilt)
	// "gpu" and "auto" pick among the listed devices, so their error
	// carries the listing's reason.
	for _, spec := range []string{"gpu", "auto"} {
		b, err := backend.Open(ctx, spec)
		assert.Nil(t, b, spec)
		assert.ErrorContains(t, err, "gpu (WebGPU): "+gpu.ErrNotBuilt.Error(), spec)
	}
}
