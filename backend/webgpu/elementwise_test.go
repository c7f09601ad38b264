//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestBinary(t *testing.T) {
	b := webgputest.Open(t)
	a := upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	tests := []struct {
		name  string
		op    func(x, y backend.Tensor) (backend.Tensor, error)
		other []float32
		shape []int
		want  []float32
	}{
		{"add same shape", b.Add, []float32{10, 20, 30, 40, 50, 60}, []int{2, 3}, []float32{11, 22, 33, 44, 55, 66}},
		{"add row broadcast", b.Add, []float32{10, 20, 30}, []int{3}, []float32{11, 22, 33, 14, 25, 36}},
		{"sub row broadcast", b.Sub, []float32{1, 1, 1}, []int{3}, []float32{0, 1, 2, 3, 4, 5}},
		{"mul row broadcast", b.Mul, []float32{2, 0, -1}, []int{3}, []float32{2, 0, -3, 8, 0, -6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := upload(t, b, tc.other, tc.shape...)
			out, err := tc.op(a, y)
			require.NoError(t, err)
			assert.Equal(t, []int{2, 3}, out.Shape())
			assert.Equal(t, tc.want, values(t, b, out))
		})
	}
}

func TestAffineAndWeightedSum(t *testing.T) {
	b := webgputest.Open(t)
	x := upload(t, b, []float32{1, -2, 3}, 3)
	y, err := b.Affine(x, 2, 0.5)
	require.NoError(t, err)
	assert.Equal(t, []float32{2.5, -3.5, 6.5}, values(t, b, y))

	z := upload(t, b, []float32{10, 20, 30}, 3)
	s, err := b.WeightedSum([]backend.Tensor{x, z, x}, []float32{1, 0.5, -2})
	require.NoError(t, err)
	assert.Equal(t, []float32{1 + 5 - 2, -2 + 10 + 4, 3 + 15 - 6}, values(t, b, s))
}
