//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestBinaryVectorPaths checks the scalar and vec4 entries of the binary
// kernels against values computed here, for shapes that pick each one: full
// shape and suffix broadcast, lengths that are and are not multiples of 4.
func TestBinaryVectorPaths(t *testing.T) {
	k := newOpKit(t)
	tests := []struct {
		name   string
		ashape []int
		bshape []int
	}{
		{"vec4 full shape", []int{8, 12}, []int{8, 12}},
		{"vec4 row broadcast", []int{8, 12}, []int{12}},
		{"vec4 single row broadcast", []int{4, 4}, []int{4}},
		{"scalar broadcast not multiple of 4", []int{8, 6}, []int{6}},
		{"scalar odd length", []int{5, 3}, []int{5, 3}},
		{"3-D suffix broadcast", []int{3, 4, 8}, []int{4, 8}},
	}
	ops := []struct {
		name string
		fn   func(x, y backend.Tensor) (backend.Tensor, error)
		ref  func(a, b float32) float32
	}{
		{"Add", k.b.Add, func(a, b float32) float32 { return a + b }},
		{"Sub", k.b.Sub, func(a, b float32) float32 { return a - b }},
		{"Mul", k.b.Mul, func(a, b float32) float32 { return a * b }},
	}
	for _, tc := range tests {
		na, nb := prod(tc.ashape), prod(tc.bshape)
		av, bv := randVals(1, na, 0, 1), randVals(2, nb, 1, 1)
		a, c := k.f32(av, tc.ashape...), k.f32(bv, tc.bshape...)
		for _, op := range ops {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				out, err := op.fn(a, c)
				require.NoError(t, err)
				want := make([]float32, na)
				for i := range want {
					want[i] = op.ref(av[i], bv[i%nb])
				}
				assert.Equal(t, tc.ashape, out.Shape())
				assert.Equal(t, want, k.get(out))
			})
		}
	}
}

// TestAffineAndWeightedSumVectorPaths runs Affine and WeightedSum on
// lengths that pick the vec4 entries (8) and the scalar ones (7).
func TestAffineAndWeightedSumVectorPaths(t *testing.T) {
	k := newOpKit(t)
	for _, n := range []int{8, 7} {
		xv, yv := randVals(3, n, 0, 1), randVals(4, n, 0, 1)
		x, y := k.f32(xv, n), k.f32(yv, n)
		aff, err := k.b.Affine(x, 2, 0.5)
		require.NoError(t, err)
		sum, err := k.b.WeightedSum([]backend.Tensor{x, y}, []float32{0.5, -3})
		require.NoError(t, err)
		wantAff, wantSum := make([]float32, n), make([]float32, n)
		for i := range n {
			wantAff[i] = 2*xv[i] + 0.5
			wantSum[i] = 0.5*xv[i] + -3*yv[i]
		}
		assert.InDeltaSlice(t, wantAff, k.get(aff), 1e-6, "Affine n=%d", n)
		assert.InDeltaSlice(t, wantSum, k.get(sum), 1e-6, "WeightedSum n=%d", n)
	}
}

// prod is the element count of shape.
func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
