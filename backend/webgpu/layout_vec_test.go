//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			wantShape, want := permuteRef(xv, tc.shape, tc.perm)
			assert.Equal(t, wantShape, out.Shape())
			assert.Equal(t, want, k.get(out))
		})
	}
}

// permuteRef permutes x of shape by perm on the CPU.
func permuteRef(x []float32, shape, perm []int) ([]int, []float32) {
	r := len(shape)
	strides := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		strides[i] = s
		s *= shape[i]
	}
	oshape := make([]int, r)
	for i, p := range perm {
		oshape[i] = shape[p]
	}
	out := make([]float32, len(x))
	idx := make([]int, r)
	for o := range out {
		src := 0
		for i := range r {
			src += idx[i] * strides[perm[i]]
		}
		out[o] = x[src]
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < oshape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return oshape, out
}

// TestNarrowVectorPaths narrows and assigns back along each dimension of a
// [3, 4, 8] tensor: inner 32 and 8 take the vec4 entries, inner 1 the
// scalar ones.
func TestNarrowVectorPaths(t *testing.T) {
	k := newOpKit(t)
	shape := []int{3, 4, 8}
	xv := seq(prod(shape), 1, 1)
	for dim, span := range [][2]int{{1, 2}, {1, 2}, {2, 5}} {
		start, length := span[0], span[1]
		x := k.f32(xv, shape...)
		got, err := k.b.Narrow(x, dim, start, length)
		require.NoError(t, err)
		oshape := append([]int(nil), shape...)
		oshape[dim] = length
		want := make([]float32, 0, prod(oshape))
		for i := range shape[0] {
			for j := range shape[1] {
				for l := range shape[2] {
					c := [3]int{i, j, l}[dim]
					if c >= start && c < start+length {
						want = append(want, xv[(i*shape[1]+j)*shape[2]+l])
					}
				}
			}
		}
		assert.Equal(t, oshape, got.Shape(), "dim %d", dim)
		assert.Equal(t, want, k.get(got), "Narrow dim %d", dim)

		dst := k.f32(make([]float32, prod(shape)), shape...)
		require.NoError(t, k.b.NarrowAssign(dst, dim, start, got))
		back, err := k.b.Narrow(dst, dim, start, length)
		require.NoError(t, err)
		assert.Equal(t, want, k.get(back), "NarrowAssign dim %d", dim)
		d := k.get(dst)
		zeros := 0
		for _, v := range d {
			if v == 0 {
				zeros++
			}
		}
		assert.Equal(t, len(d)-len(want), zeros, "NarrowAssign dim %d leaves the rest zero", dim)
	}
}
