//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/conformance/ref"
)

// TestPermuteVectorPaths compares Permute with a reference on shapes that
// take the vec4 entry (last dimension kept, a multiple of 4) and ones that
// do not.
func TestPermuteVectorPaths(t *testing.T) {
	k := newOpKit(t)
	tests := []struct {
		name  string
		shape []int
		perm  []int
	}{
		{"heads swap vec4", []int{2, 3, 2, 8}, []int{0, 2, 1, 3}},
		{"3-D vec4", []int{3, 2, 4}, []int{1, 0, 2}},
		{"1-D vec4", []int{8}, []int{0}},
		{"last dim moved", []int{2, 3, 4}, []int{2, 1, 0}},
		{"last dim kept, odd", []int{2, 3, 6}, []int{1, 0, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xv := seq(prod(tc.shape), 0, 1)
			out, err := k.b.Permute(k.f32(xv, tc.shape...), tc.perm...)
			require.NoError(t, err)
			want, err := ref.Permute(refT(t, xv, tc.shape...), tc.perm...)
			require.NoError(t, err)
			assert.Equal(t, want.Shape, out.Shape())
			assert.Equal(t, want.Data, widen(k.get(out)))
		})
	}
}
