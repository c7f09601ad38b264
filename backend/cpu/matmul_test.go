package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
	"github.com/ia3/ia3/quant"
)

func TestMatMulHandComputed(t *testing.T) {
	b := open(t)
	a := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	bb := f32s(t, b, []float32{7, 8, 9, 10, 11, 12}, 3, 2)
	tests := []struct {
		name  string
		a, b  backend.Tensor
		o     backend.MatMulOptions
		shape []int
		want  []float32
	}{
		{"plain", a, bb, backend.MatMulOptions{}, []int{2, 2}, []float32{58, 64, 139, 154}},
		{"alpha", a, bb, backend.MatMulOptions{Alpha: 0.5}, []int{2, 2}, []float32{29, 32, 69.5, 77}},
		// aᵀ·a: a read as [3, 2]ᵀ... a holds [K=2, M=3].
		{"transA", a, a, backend.MatMulOptions{TransA: true}, []int{3, 3}, []float32{17, 22, 27, 22, 29, 36, 27, 36, 45}},
		// a·aᵀ with b holding [N=2, K=3].
		{"transB", a, a, backend.MatMulOptions{TransB: true}, []int{2, 2}, []float32{14, 32, 32, 77}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := must(t)(b.MatMul(tc.a, tc.b, tc.o))
			assert.Equal(t, tc.want, values(t, b, got, tc.shape...))
		})
	}
}

// TestMatMulAgainstReference covers every path of the blocked kernel: edge
// tiles, several K blocks, wide N, batches, shared b, transposes and
// half-precision b.
func TestMatMulAgainstReference(t *testing.T) {
	b := open(t)
	tests := []struct {
		batch, m, n, k int
		transA, transB bool
		sharedB        bool
		dtype          backend.DType
	}{
		{1, 1, 1, 1, false, false, false, backend.F32},
		// Up to four rows stream B instead of packing it.
		{1, 1, 300, 520, false, false, false, backend.F32},
		{1, 4, 130, 70, true, true, false, backend.F32},
		{2, 2, 70, 33, false, true, true, backend.F16},
		{3, 1, 65, 9, true, false, false, backend.BF16},
		{1, 3, 5, 7, false, false, false, backend.F32},
		{1, 67, 2053, 300, false, false, false, backend.F32},
		{1, 130, 70, 513, true, false, false, backend.F32},
		{1, 33, 17, 260, false, true, false, backend.F32},
		{1, 9, 11, 13, true, true, false, backend.F32},
		{3, 5, 6, 7, false, false, false, backend.F32},
		{4, 5, 6, 7, false, true, true, backend.F32},
		{2, 70, 65, 300, false, false, false, backend.F16},
		{2, 7, 9, 11, false, true, true, backend.BF16},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%dx%dx%dx%d_tA%v_tB%v_shared%v_%v", tc.batch, tc.m, tc.n, tc.k, tc.transA, tc.transB, tc.sharedB, tc.dtype)
		t.Run(name, func(t *testing.T) {
			av := random(1, tc.batch*tc.m*tc.k)
			nbB := tc.batch
			if tc.sharedB {
				nbB = 1
			}
			bv := random(2, nbB*tc.k*tc.n)
			aShape := []int{tc.batch, tc.m, tc.k}
			if tc.transA {
				aShape = []int{tc.batch, tc.k, tc.m}
			}
			bShape := []int{nbB, tc.k, tc.n}
			if tc.transB {
				bShape = []int{nbB, tc.n, tc.k}
			}
			if tc.sharedB {
				bShape = bShape[1:]
			}
			bt, bvals := upload(t, b, tc.dtype, bv, bShape...)
			got := must(t)(b.MatMul(f32s(t, b, av, aShape...), bt, backend.MatMulOptions{TransA: tc.transA, TransB: tc.transB}))
			out := values(t, b, got, tc.batch, tc.m, tc.n)
			want, err := ref.MatMul(refT(t, av, aShape...), refT(t, bvals, bShape...), tc.transA, tc.transB, 1)
			require.NoError(t, err)
			for i, w := range want.Data {
				require.InDelta(t, w, out[i], 1e-5*math.Sqrt(float64(tc.k))+1e-6, "element %d", i)
			}
		})
	}
}

// upload stores v as dtype and returns the tensor with the values it holds
// (rounded for F16/BF16).
func upload(t testing.TB, b backend.Backend, dtype backend.DType, v []float32, shape ...int) (backend.Tensor, []float32) {
	t.Helper()
	if dtype == backend.F32 {
		return f32s(t, b, v, shape...), v
	}
	if dtype.IsQuantized() {
		raw, err := quant.Quantize(dtype.QuantFormat(), v, shape[0], shape[1])
		require.NoError(t, err)
		x, err := b.FromBytes(dtype, raw, shape...)
		require.NoError(t, err)
		got, err := b.ToFloat32(x)
		require.NoError(t, err)
		return x, got
	}
	raw := make([]byte, 2*len(v))
	for i, x := range v {
		h := toHalf(x, dtype)
		raw[2*i], raw[2*i+1] = byte(h), byte(h>>8)
	}
	x, err := b.FromBytes(dtype, raw, shape...)
	require.NoError(t, err)
	got, err := b.ToFloat32(x)
	require.NoError(t, err)
	return x, got
}

// toHalf rounds x to F16 or BF16 bits by truncation (exactness is not needed
// here: the test compares against the widened stored values).
func toHalf(x float32, dtype backend.DType) uint16 {
	bits := math.Float32bits(x)
	if dtype == backend.BF16 {
		return uint16(bits >> 16)
	}
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23&0xff) - 127 + 15
	if exp <= 0 {
		return sign
	}
	return sign | uint16(exp)<<10 | uint16(bits>>13&0x3ff)
}
