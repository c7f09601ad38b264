//go:build cgo && !nowebgpu

package webgpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
)

// matmulRef multiplies in float64 through conformance/ref: a [batch, M, K]
// (or [batch, K, M] when transA), b [bBatch, K, N] (or [bBatch, N, K]);
// bBatch is batch, or b is shared 2-D.
func matmulRef(a, b []float32, batch, m, k, n int, transA, transB, shared bool, alpha float64) []float64 {
	aShape, bShape := []int{batch, m, k}, []int{batch, k, n}
	if transA {
		aShape = []int{batch, k, m}
	}
	if transB {
		bShape = []int{batch, n, k}
	}
	if shared {
		bShape = bShape[1:]
	}
	out, err := ref.MatMul(ref.T{Shape: aShape, Data: widen(a)}, ref.T{Shape: bShape, Data: widen(b)}, transA, transB, alpha)
	if err != nil {
		panic(err) // the test's own shapes: a programming error
	}
	return out.Data
}

func randoms(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func TestMatMulHandValues(t *testing.T) {
	b := webgputest.Open(t)
	a := upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	w := upload(t, b, []float32{1, 0, 0, 1, 1, 1}, 3, 2)
	out, err := b.MatMul(a, w, backend.MatMulOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2}, out.Shape())
	assert.Equal(t, []float32{4, 5, 10, 11}, values(t, b, out))
	scaled, err := b.MatMul(a, w, backend.MatMulOptions{Alpha: 0.5})
	require.NoError(t, err)
	assert.Equal(t, []float32{2, 2.5, 5, 5.5}, values(t, b, scaled))
}

// matmulCase is one MatMul product of the shape tests: a batch of m×k by
// k×n, either operand transposed, b shared by the batch or not.
type matmulCase struct {
	batch, m, k, n int
	transA, transB bool
	shared         bool
}

func (tc matmulCase) String() string {
	return fmt.Sprintf("b%d_%dx%dx%d_tA%v_tB%v_shared%v", tc.batch, tc.m, tc.k, tc.n, tc.transA, tc.transB, tc.shared)
}

// check runs the product on b with random operands drawn from r and
// compares it with the float64 reference.
func (tc matmulCase) check(t *testing.T, b backend.Backend, r *rand.Rand, alpha float32) {
	t.Helper()
	ad := randoms(r, tc.batch*tc.m*tc.k)
	bb := tc.batch
	if tc.shared {
		bb = 1
	}
	bd := randoms(r, bb*tc.k*tc.n)
	aShape := []int{tc.m, tc.k}
	if tc.transA {
		aShape = []int{tc.k, tc.m}
	}
	bShape := []int{tc.k, tc.n}
	if tc.transB {
		bShape = []int{tc.n, tc.k}
	}
	if tc.batch > 1 || !tc.shared {
		aShape = append([]int{tc.batch}, aShape...)
	}
	if !tc.shared {
		bShape = append([]int{tc.batch}, bShape...)
	}
	out, err := b.MatMul(upload(t, b, ad, aShape...), upload(t, b, bd, bShape...),
		backend.MatMulOptions{TransA: tc.transA, TransB: tc.transB, Alpha: alpha})
	require.NoError(t, err)
	ref := float64(alpha)
	if alpha == 0 {
		ref = 1
	}
	requireClose(t, matmulRef(ad, bd, tc.batch, tc.m, tc.k, tc.n, tc.transA, tc.transB, tc.shared, ref), values(t, b, out), tc.k)
}

func TestMatMulShapes(t *testing.T) {
	b := webgputest.Open(t)
	r := rand.New(rand.NewPCG(1, 2))
	tests := []matmulCase{
		{1, 1, 1, 1, false, false, true},
		{1, 1, 7, 1, false, false, true},
		{1, 3, 5, 2, false, false, true},
		{1, 65, 17, 63, false, false, true},
		{1, 64, 64, 64, true, false, true},
		{1, 33, 70, 129, false, true, true},
		{1, 5, 3, 9, true, true, true},
		{3, 17, 9, 11, false, false, false},
		{2, 70, 33, 65, false, true, false},
		{4, 9, 13, 5, true, false, true},
		{2, 130, 1, 3, false, false, false},
		// A few rows against a long K with b transposed: matmul_dot.
		{2, 3, 300, 5, false, true, false},
		{1, 1, 257, 9, true, true, true},
		// Shapes of 32 rows and columns and more take the tiled kernel.
		{1, 32, 16, 32, false, false, true},
		{1, 70, 64, 65, false, false, true},
		{1, 65, 33, 129, false, true, true},
		{2, 64, 40, 96, true, false, false},
		{2, 33, 17, 35, true, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.String(), func(t *testing.T) { tc.check(t, b, r, 0) })
	}
}

// packHalf stores vs as F16 or BF16 little-endian bytes (vs must be exact in
// the format) and returns them with the widened values.
func packHalf(dt backend.DType, vs []float32) []byte {
	out := make([]byte, 2*len(vs))
	for i, v := range vs {
		var h uint16
		if dt == backend.BF16 {
			h = uint16(math.Float32bits(v) >> 16)
		} else {
			h = toHalf(v)
		}
		binary.LittleEndian.PutUint16(out[2*i:], h)
	}
	return out
}

// toHalf converts a float32 exactly representable as a normal binary16.
func toHalf(v float32) uint16 {
	bits := math.Float32bits(v)
	sign := uint16(bits>>16) & 0x8000
	if v == 0 {
		return sign
	}
	exp := int(bits>>23&0xff) - 127 + 15
	return sign | uint16(exp)<<10 | uint16(bits>>13&0x3ff)
}

// halfMatMul multiplies a random m×k F32 a by a k×n b stored as dt (read
// transposed when transB), with b's values exact in F16 and BF16, and
// returns the float64 reference and the device's result.
func halfMatMul(t *testing.T, b backend.Backend, r *rand.Rand, dt backend.DType, transB bool, m, k, n int) ([]float64, []float32) {
	t.Helper()
	ad := randoms(r, m*k)
	bd := make([]float32, k*n)
	for i := range bd {
		bd[i] = float32(r.IntN(17)-8) / 4 // exact in F16 and BF16
	}
	bShape := []int{k, n}
	if transB {
		bShape = []int{n, k}
	}
	w, err := b.FromBytes(dt, packHalf(dt, bd), bShape...)
	require.NoError(t, err)
	out, err := b.MatMul(upload(t, b, ad, m, k), w, backend.MatMulOptions{TransB: transB})
	require.NoError(t, err)
	return matmulRef(ad, bd, 1, m, k, n, false, transB, true, 1), values(t, b, out)
}

func TestMatMulHalfWeights(t *testing.T) {
	b := webgputest.Open(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []backend.DType{backend.F16, backend.BF16} {
		for _, transB := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s_transB%v", dt, transB), func(t *testing.T) {
				// Odd sizes: elements straddle words.
				want, got := halfMatMul(t, b, r, dt, transB, 5, 7, 9)
				assert.InDeltaSlice(t, want, toF64(got), 1e-4)
			})
		}
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// BenchmarkMatMul measures square F32 products under each tiled kernel
// (sub-benchmarks tile64 and tile128, see webgpu.MatMulKernelEnv); the
// GFLOP/s metric counts 2·n³ operations per product, synchronised inside the
// timed loop. Narrow it with -bench 'MatMul/tile128/4096', say.
func BenchmarkMatMul(bm *testing.B) {
	for _, kernel := range matmulKernels {
		bm.Run(kernel, func(bm *testing.B) {
			b := openWithKernel(bm, kernel)
			for _, n := range []int{256, 512, 1024, 2048, 4096} {
				bm.Run(fmt.Sprint(n), func(bm *testing.B) { benchMatMul(bm, b, n) })
			}
		})
	}
}

// benchMatMul times n×n by n×n products on b.
func benchMatMul(bm *testing.B, b backend.Backend, n int) {
	r := rand.New(rand.NewPCG(5, 6))
	x, err := b.FromFloat32(randoms(r, n*n), n, n)
	require.NoError(bm, err)
	y, err := b.FromFloat32(randoms(r, n*n), n, n)
	require.NoError(bm, err)
	// One untimed product first: creating the pipeline is not matmul time.
	out, err := b.MatMul(x, y, backend.MatMulOptions{})
	require.NoError(bm, err)
	b.Free(out)
	require.NoError(bm, b.Sync())
	bm.ResetTimer()
	for bm.Loop() {
		out, err := b.MatMul(x, y, backend.MatMulOptions{})
		if err != nil {
			bm.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			bm.Fatal(err)
		}
		b.Free(out)
	}
	bm.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.Free(x)
	b.Free(y)
}
