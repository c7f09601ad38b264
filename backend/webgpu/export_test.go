//go:build cgo && !nowebgpu

package webgpu

import "github.com/ia3/ia3/backend"

// SplitParts returns how many buffers hold x: 1 for an ordinary tensor, the
// number of parts for a split one, 0 for a tensor of another backend.
func SplitParts(x backend.Tensor) int {
	t, ok := x.(*tensor)
	switch {
	case !ok:
		return 0
	case t.split != nil:
		return len(t.split.parts)
	}
	return 1
}

// AllocatedBytes is the device memory b's tensors hold.
func AllocatedBytes(b *Backend) uint64 { return b.dev.AllocatedBytes() }
