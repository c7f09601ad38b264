package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// TestProductsOverwriteRecycledStorage hands MatMul and Linear an output
// buffer full of NaN from the spares (as a freed tensor of that size would
// leave it) and checks every element of the result: the packed path with
// edge tiles and several k slices, the streaming path (few rows), batches
// and transposes.
func TestProductsOverwriteRecycledStorage(t *testing.T) {
	raw := New(2)
	defer raw.Close()
	b := backend.Checked(raw)
	tests := []struct {
		batch, m, n, k int
		transA, transB bool
	}{
		{1, 130, 130, 7, false, false},
		{1, 131, 257, 600, false, true},
		{1, 3, 6000, 20, false, false},
		{1, 2, 9000, 33, false, true},
		{2, 100, 90, 300, true, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%dx%dx%d_tA%v_tB%v", tc.batch, tc.m, tc.n, tc.k, tc.transA, tc.transB), func(t *testing.T) {
			aShape := []int{tc.batch, tc.m, tc.k}
			if tc.transA {
				aShape = []int{tc.batch, tc.k, tc.m}
			}
			bShape := []int{tc.batch, tc.k, tc.n}
			if tc.transB {
				bShape = []int{tc.batch, tc.n, tc.k}
			}
			av, bv := random(1, numel(aShape)), random(2, numel(bShape))
			want, err := ref.MatMul(refT(t, av, aShape...), refT(t, bv, bShape...), tc.transA, tc.transB, 1)
			require.NoError(t, err)
			x, y := f32s(t, b, av, aShape...), f32s(t, b, bv, bShape...)
			for round := range 3 {
				raw.spares.put(nanFloats(tc.batch * tc.m * tc.n))
				got := must(t)(b.MatMul(x, y, backend.MatMulOptions{TransA: tc.transA, TransB: tc.transB}))
				out := values(t, b, got, tc.batch, tc.m, tc.n)
				for i, w := range want.Data {
					require.InDelta(t, w, out[i], 1e-5*math.Sqrt(float64(tc.k))+1e-6, "round %d element %d", round, i)
				}
				b.Free(got)
			}
		})
	}
	t.Run("linear", func(t *testing.T) {
		const rows, in, out = 129, 70, 200
		xv, wv := random(3, rows*in), random(4, out*in)
		want, err := ref.MatMul(refT(t, xv, rows, in), refT(t, wv, out, in), false, true, 1)
		require.NoError(t, err)
		x, w := f32s(t, b, xv, rows, in), f32s(t, b, wv, out, in)
		raw.spares.put(nanFloats(rows * out))
		got := values(t, b, must(t)(b.Linear(x, w, backend.LinearOptions{})), rows, out)
		for i, v := range want.Data {
			require.InDelta(t, v, got[i], 1e-4, "element %d", i)
		}
	})
}

// TestSparesByLength: a freed buffer comes back only for its own length,
// and short buffers are not kept.
func TestSparesByLength(t *testing.T) {
	var s spares
	assert.Nil(t, s.get(spareMin))
	s.put(make([]float32, spareMin-1))
	assert.Nil(t, s.get(spareMin-1))
	s.put(nanFloats(spareMin + 1))
	assert.Nil(t, s.get(spareMin))
	if f := s.get(spareMin + 1); f != nil { // sync.Pool may drop it (it does at random under -race)
		assert.Len(t, f, spareMin+1)
	}
}

func nanFloats(n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(math.NaN())
	}
	return f
}
