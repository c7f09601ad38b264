//go:build cgo && !nowebgpu

package gpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstancesOverlap releases a second instance handle while a device of
// the first is in use, on every adapter. With one wgpu instance per handle
// the release terminated the EGL display the OpenGL device still used, and
// the next write aborted inside wgpu (BadDisplay); every handle now shares
// the process's one instance.
func TestInstancesOverlap(t *testing.T) {
	openDevice(t) // skips (or fails under IA3_REQUIRE_GPU=1) without an adapter
	in, err := NewInstance()
	require.NoError(t, err)
	defer in.Release()
	for _, a := range in.Adapters() {
		t.Run(a.API, func(t *testing.T) {
			d, err := in.Open(a.Index)
			require.NoError(t, err)
			defer func() { assert.NoError(t, d.Close()) }()
			other, err := NewInstance()
			require.NoError(t, err)
			assert.Same(t, in.raw, other.raw, "handles share one wgpu instance")
			other.Release()
			other.Release() // a second release of a handle does nothing
			if err := d.probe(); err != nil {
				t.Skipf("%s cannot compute: %v", a.Name, err)
			}
			require.NoError(t, d.probe(), "the device outlives the other handle")
		})
	}
}
