//go:build cgo && !nowebgpu

package webgpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// matmulKernels are the MatMulKernelEnv settings every large-product test
// runs under, so both tiled kernels stay correct.
var matmulKernels = []string{"tile64", "tile128"}

// openWithKernel opens a backend with MatMulKernelEnv set to kernel.
func openWithKernel(t testing.TB, kernel string) backend.Backend {
	t.Helper()
	t.Setenv(webgpu.MatMulKernelEnv, kernel)
	return webgputest.Open(t)
}

// requireClose checks got against want within the tolerance the other
// matmul tests use for a K-term sum.
func requireClose(t *testing.T, want []float64, got []float32, k int) {
	t.Helper()
	require.Len(t, got, len(want))
	tol := 1e-4*math.Sqrt(float64(k)) + 1e-5
	for i := range want {
		require.InDelta(t, want[i], got[i], tol, "element %d", i)
	}
}

// TestMatMulLargeShapes runs products of at least 128 rows and columns
// (the 128×128-tile kernel under tile128) with sizes that are not multiples
// of any tile, every transpose, batches and a shared b.
func TestMatMulLargeShapes(t *testing.T) {
	tests := []matmulCase{
		{1, 128, 16, 128, false, false, true},
		{1, 129, 65, 257, false, false, true},
		{2, 300, 1000, 130, false, false, false},
		{1, 257, 129, 131, true, false, true},
		{1, 131, 77, 257, false, true, true},
		{2, 140, 33, 190, true, true, true},
		{3, 128, 128, 128, false, true, false},
		{1, 200, 1, 150, false, false, true},
		{1, 255, 17, 129, true, true, true},
	}
	for _, kernel := range matmulKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openWithKernel(t, kernel)
			r := rand.New(rand.NewPCG(11, 12))
			for _, tc := range tests {
				t.Run(tc.String(), func(t *testing.T) { tc.check(t, b, r, 0.5) })
			}
		})
	}
}

// TestMatMulLargeHalfWeights reads an F16/BF16 b of odd size (elements
// straddle words) through the large kernel, both layouts.
func TestMatMulLargeHalfWeights(t *testing.T) {
	for _, kernel := range matmulKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openWithKernel(t, kernel)
			r := rand.New(rand.NewPCG(13, 14))
			for _, dt := range []backend.DType{backend.F16, backend.BF16} {
				for _, transB := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s_transB%v", dt, transB), func(t *testing.T) {
						want, got := halfMatMul(t, b, r, dt, transB, 133, 37, 131)
						requireClose(t, want, got, 37)
					})
				}
			}
		})
	}
}

// linearRef is Linear in float64: x [rows, in], w [out, in] (or [in, out]
// with fanInFanOut), optional bias [out], output and input scales [out] or
// [A, out] / [in] or [A, in] (stacked when their row count is given), with
// row r of a stacked scale picked by idx[r] and rows with idx -1 unscaled.
type linearRef struct {
	rows, in, out int
	x, w, bias    []float32
	outS, inS     []float32
	outStacked    bool
	inStacked     bool
	idx           []int32
	fanInFanOut   bool
}

func (l linearRef) scaleRow(r int, stacked bool) int {
	if !stacked {
		return 0
	}
	return int(l.idx[r])
}

func (l linearRef) run() []float64 {
	y := make([]float64, l.rows*l.out)
	for r := 0; r < l.rows; r++ {
		is := l.scaleRow(r, l.inStacked)
		os := l.scaleRow(r, l.outStacked)
		for o := 0; o < l.out; o++ {
			s := 0.0
			for i := 0; i < l.in; i++ {
				xv := float64(l.x[r*l.in+i])
				if l.inS != nil && is >= 0 {
					xv *= float64(l.inS[is*l.in+i])
				}
				wi := o*l.in + i
				if l.fanInFanOut {
					wi = i*l.out + o
				}
				s += xv * float64(l.w[wi])
			}
			if l.bias != nil {
				s += float64(l.bias[o])
			}
			if l.outS != nil && os >= 0 {
				s *= float64(l.outS[os*l.out+o])
			}
			y[r*l.out+o] = s
		}
	}
	return y
}

// TestLinearLargeEpilogue runs Linear through the large kernel with every
// epilogue option: bias, output and input scales (single and stacked, with
// a per-row ScaleIndex including unscaled rows), fan_in_fan_out and F16
// weights.
func TestLinearLargeEpilogue(t *testing.T) {
	const rows, in, out, adapters = 300, 130, 257, 3
	tests := []struct {
		name                  string
		bias, outS, inS       bool
		outStacked, inStacked bool
		fanInFanOut           bool
		half                  bool
	}{
		{name: "plain"},
		{name: "bias", bias: true},
		{name: "bias_scales", bias: true, outS: true, inS: true},
		{name: "stacked_out", outS: true, outStacked: true, inS: true},
		{name: "stacked_in", bias: true, inS: true, inStacked: true},
		{name: "stacked_both_fan_in_fan_out", bias: true, outS: true, outStacked: true, inS: true, inStacked: true, fanInFanOut: true},
		{name: "f16_stacked_both", bias: true, outS: true, outStacked: true, inS: true, inStacked: true, half: true},
		{name: "f16_fan_in_fan_out_scales", outS: true, inS: true, fanInFanOut: true, half: true},
	}
	for _, kernel := range matmulKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openWithKernel(t, kernel)
			r := rand.New(rand.NewPCG(15, 16))
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ref := linearRef{rows: rows, in: in, out: out, x: randoms(r, rows*in), fanInFanOut: tc.fanInFanOut}
					ref.w = make([]float32, in*out)
					for i := range ref.w {
						ref.w[i] = float32(r.IntN(33)-16) / 16 // exact in F16
					}
					wShape := []int{out, in}
					if tc.fanInFanOut {
						wShape = []int{in, out}
					}
					var w backend.Tensor
					if tc.half {
						var err error
						w, err = b.FromBytes(backend.F16, packHalf(backend.F16, ref.w), wShape...)
						require.NoError(t, err)
					} else {
						w = upload(t, b, ref.w, wShape...)
					}
					var o backend.LinearOptions
					o.FanInFanOut = tc.fanInFanOut
					if tc.bias {
						ref.bias = randoms(r, out)
						o.Bias = upload(t, b, ref.bias, out)
					}
					scale := func(stacked bool, n int) ([]float32, backend.Tensor) {
						a := 1
						shape := []int{n}
						if stacked {
							a, shape = adapters, []int{adapters, n}
						}
						v := make([]float32, a*n)
						for i := range v {
							v[i] = 0.5 + r.Float32()
						}
						return v, upload(t, b, v, shape...)
					}
					if tc.outS {
						ref.outS, o.OutScale = scale(tc.outStacked, out)
						ref.outStacked = tc.outStacked
					}
					if tc.inS {
						ref.inS, o.InScale = scale(tc.inStacked, in)
						ref.inStacked = tc.inStacked
					}
					if tc.outStacked || tc.inStacked {
						ref.idx = make([]int32, rows)
						for i := range ref.idx {
							ref.idx[i] = int32(r.IntN(adapters+1)) - 1 // -1: unscaled row
						}
						idx, err := b.FromInt32(ref.idx, rows)
						require.NoError(t, err)
						o.ScaleIndex = idx
					}
					y, err := b.Linear(upload(t, b, ref.x, rows, in), w, o)
					require.NoError(t, err)
					require.Equal(t, []int{rows, out}, y.Shape())
					requireClose(t, ref.run(), values(t, b, y), in)
				})
			}
		})
	}
}

// TestOpenRejectsUnknownMatMulKernel: a misspelt setting fails Open with a
// message naming the variable and the valid values.
func TestOpenRejectsUnknownMatMulKernel(t *testing.T) {
	t.Setenv(webgpu.MatMulKernelEnv, "tile256")
	_, err := webgpu.Open(context.Background(), "gpu:0")
	require.ErrorContains(t, err, webgpu.MatMulKernelEnv+`="tile256": want tile64, tile128 or auto`)
}
