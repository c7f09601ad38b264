//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestPermute(t *testing.T) {
	b := webgputest.Open(t)
	tests := []struct {
		name      string
		shape     []int
		perm      []int
		wantShape []int
		want      []float32
	}{
		{"1-D identity", []int{3}, []int{0}, []int{3}, []float32{0, 1, 2}},
		{"transpose", []int{2, 3}, []int{1, 0}, []int{3, 2}, []float32{0, 3, 1, 4, 2, 5}},
		{"3-D", []int{2, 2, 3}, []int{2, 0, 1}, []int{3, 2, 2}, []float32{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}},
		{"heads swap", []int{1, 2, 3, 2}, []int{0, 2, 1, 3}, []int{1, 3, 2, 2},
			[]float32{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			out, err := b.Permute(upload(t, b, seq(n, 0, 1), tc.shape...), tc.perm...)
			require.NoError(t, err)
			assert.Equal(t, tc.wantShape, out.Shape())
			assert.Equal(t, tc.want, values(t, b, out))
		})
	}
}

func TestNarrowAssignConcat(t *testing.T) {
	b := webgputest.Open(t)
	x := upload(t, b, seq(12, 0, 1), 2, 3, 2) // [[[0 1][2 3][4 5]] [[6 7][8 9][10 11]]]
	n, err := b.Narrow(x, 1, 1, 2)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2, 2}, n.Shape())
	assert.Equal(t, []float32{2, 3, 4, 5, 8, 9, 10, 11}, values(t, b, n))

	last, err := b.Narrow(x, 2, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 3, 5, 7, 9, 11}, values(t, b, last))

	dst, err := b.Zeros(2, 3, 2)
	require.NoError(t, err)
	require.NoError(t, b.NarrowAssign(dst, 1, 1, n))
	assert.Equal(t, []float32{0, 0, 2, 3, 4, 5, 0, 0, 8, 9, 10, 11}, values(t, b, dst))

	c, err := b.Concat(1, n, x)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 5, 2}, c.Shape())
	assert.Equal(t, []float32{2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 6, 7, 8, 9, 10, 11}, values(t, b, c))

	c0, err := b.Concat(0, x, n)
	require.Error(t, err, "shapes differ outside dim 0")
	assert.Nil(t, c0)
}

func TestNarrowAssignFromOwnView(t *testing.T) {
	b := webgputest.Open(t)
	// src is a view of dst: binding one buffer both read-write and read-only
	// is invalid in WebGPU, so the dispatch must read a scratch copy.
	dst := upload(t, b, seq(6, 1, 1), 2, 3)
	v, err := b.View(dst, 2, 3)
	require.NoError(t, err)
	require.NoError(t, b.NarrowAssign(dst, 0, 0, v))
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, values(t, b, dst))
	require.NoError(t, b.Sync())
}
