//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
	"github.com/ia3/ia3/quant"
)

// quantDTypes pairs each quantized dtype with its format in package quant.
var quantDTypes = []struct {
	dt backend.DType
	f  quant.Format
}{{backend.Q8_0, quant.Q8_0}, {backend.NF4, quant.NF4}}

// quantWeights returns random [rows, cols] weights with the cases the
// formats must get exactly right: a zero block, a block of tiny values (a
// subnormal float16 Q8_0 scale) and a block with one large outlier.
func quantWeights(r *rand.Rand, rows, cols int) []float32 {
	w := randoms(r, rows*cols)
	bs := min(64, len(w))
	for i := range bs {
		w[i] = 0
	}
	if len(w) >= 3*bs {
		for i := bs; i < 2*bs; i++ {
			w[i] *= 1e-4
		}
		w[2*bs+5] = 40
	}
	return w
}

// uploadQuant quantizes w [rows, cols] on the host with package quant and
// uploads it as dt, returning the tensor and quant's dequantisation.
func uploadQuant(t *testing.T, b backend.Backend, dt backend.DType, f quant.Format, w []float32, rows, cols int) (backend.Tensor, []float32) {
	t.Helper()
	data, err := quant.Quantize(f, w, rows, cols)
	require.NoError(t, err)
	want, err := quant.Dequantize(f, data, rows, cols)
	require.NoError(t, err)
	q, err := b.FromBytes(dt, data, rows, cols)
	require.NoError(t, err)
	assert.Equal(t, dt, q.DType())
	assert.Equal(t, []int{rows, cols}, q.Shape())
	return q, want
}

// bits returns the float32 bit patterns of v, so that equality is exact
// (signed zeros included).
func bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// TestQuantDequantiseBitExact checks that the GPU dequantises exactly as
// package quant does on the CPU, through ToFloat32 and Copy, which run the
// loader the matmul kernels use. Shapes include one block, C at the block
// size, more than 256 NF4 blocks (a second, short double-quantization group)
// and a long row.
func TestQuantDequantiseBitExact(t *testing.T) {
	b := openWithKernel(t, "tile64")
	assert.True(t, b.Info().QuantizedWeights, "the device advertises quantized weights")
	r := rand.New(rand.NewPCG(1, 2))
	for _, q := range quantDTypes {
		for _, sh := range [][2]int{{1, 64}, {3, 128}, {5, 64}, {300, 64}, {7, 320}, {2, 64 * 257}} {
			t.Run(fmt.Sprintf("%s %v", q.dt, sh), func(t *testing.T) {
				x, want := uploadQuant(t, b, q.dt, q.f, quantWeights(r, sh[0], sh[1]), sh[0], sh[1])
				assert.Equal(t, bits(want), bits(values(t, b, x)), "ToFloat32")
				c, err := b.Copy(x)
				require.NoError(t, err)
				assert.Equal(t, backend.F32, c.DType())
				assert.Equal(t, []int{sh[0], sh[1]}, c.Shape())
				assert.Equal(t, bits(want), bits(values(t, b, c)), "Copy")
			})
		}
	}
	t.Run("Q8_0 C=32", func(t *testing.T) {
		x, want := uploadQuant(t, b, backend.Q8_0, quant.Q8_0, quantWeights(r, 9, 32), 9, 32)
		assert.Equal(t, bits(want), bits(values(t, b, x)))
	})
}

// linearCase is one Linear with a quantized weight: x [lead..., rows/lead,
// in] by w [out, in].
type linearCase struct {
	lead          []int // batch dimensions of x before the rows
	rows, in, out int
}

// quantLinearCases reach every matmul kernel: matmul_dot (≤ 8 rows, in ≥
// 256), matmul_small (< 32 rows or outputs) and the tiled kernels, with R
// (out) not a multiple of any tile, C at the block size (32 for Q8_0, 64
// for both), and a long C.
var quantLinearCases = []linearCase{
	{rows: 1, in: 256, out: 7},
	{rows: 3, in: 512, out: 40},
	{rows: 9, in: 32, out: 70}, // Q8_0 only: C is one block
	{rows: 40, in: 32, out: 65},
	{rows: 5, in: 64, out: 33},
	{rows: 40, in: 128, out: 7},
	{rows: 70, in: 64, out: 65},
	{lead: []int{2}, rows: 33, in: 192, out: 100},
	{rows: 40, in: 4096, out: 48},
	{rows: 130, in: 128, out: 129},
	{lead: []int{2}, rows: 75, in: 320, out: 257},
}

// TestQuantLinear runs Linear with Q8_0 and NF4 weights under both tiled
// kernels and every option (bias, (IA)³ input and output scales, stacked
// scales picked by ScaleIndex, batched x) against the float64 reference of
// the dequantised weights.
func TestQuantLinear(t *testing.T) {
	for _, kernel := range matmulKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openWithKernel(t, kernel)
			r := rand.New(rand.NewPCG(3, 4))
			for _, q := range quantDTypes {
				for _, tc := range quantLinearCases {
					if q.f == quant.NF4 && tc.in%64 != 0 {
						continue
					}
					t.Run(fmt.Sprintf("%s %v %dx%d->%d", q.dt, tc.lead, tc.rows, tc.in, tc.out), func(t *testing.T) {
						runQuantLinear(t, b, r, q.dt, q.f, tc)
					})
				}
			}
		})
	}
}

// runQuantLinear checks one shape with every combination of options.
func runQuantLinear(t *testing.T, b backend.Backend, r *rand.Rand, dt backend.DType, f quant.Format, tc linearCase) {
	w, wq := uploadQuant(t, b, dt, f, quantWeights(r, tc.out, tc.in), tc.out, tc.in)
	batch := 1
	for _, d := range tc.lead {
		batch *= d
	}
	rows := batch * tc.rows
	xShape := append(append([]int(nil), tc.lead...), tc.rows, tc.in)
	xd := randoms(r, rows*tc.in)
	x := upload(t, b, xd, xShape...)
	bias, inS, outS := randoms(r, tc.out), positives(r, tc.in), positives(r, tc.out)
	stackedIn, stackedOut := positives(r, 2*tc.in), positives(r, 2*tc.out)
	idx := make([]int32, rows)
	refIdx := make([]int, rows)
	for i := range idx {
		idx[i] = int32(i%3) - 1 // -1 (unscaled), 0, 1
		refIdx[i] = int(idx[i])
	}
	idxT, err := b.FromInt32(idx, rows)
	require.NoError(t, err)
	vec := func(v []float32, shape ...int) *ref.T { return &ref.T{Shape: shape, Data: widen(v)} }
	tests := []struct {
		name string
		o    backend.LinearOptions
		ro   ref.LinearOpts
	}{
		{"plain", backend.LinearOptions{}, ref.LinearOpts{}},
		{"bias", backend.LinearOptions{Bias: upload(t, b, bias, tc.out)}, ref.LinearOpts{Bias: vec(bias, tc.out)}},
		{"scales", backend.LinearOptions{Bias: upload(t, b, bias, tc.out), InScale: upload(t, b, inS, tc.in), OutScale: upload(t, b, outS, tc.out)},
			ref.LinearOpts{Bias: vec(bias, tc.out), InScale: vec(inS, tc.in), OutScale: vec(outS, tc.out)}},
		{"stacked scales", backend.LinearOptions{InScale: upload(t, b, stackedIn, 2, tc.in), OutScale: upload(t, b, stackedOut, 2, tc.out), ScaleIndex: idxT},
			ref.LinearOpts{InScale: vec(stackedIn, 2, tc.in), OutScale: vec(stackedOut, 2, tc.out), ScaleIndex: refIdx}},
	}
	for _, c := range tests {
		y, err := b.Linear(x, w, c.o)
		require.NoError(t, err, c.name)
		assert.Equal(t, append(append([]int(nil), tc.lead...), tc.rows, tc.out), y.Shape(), c.name)
		want, err := ref.Linear(ref.T{Shape: xShape, Data: widen(xd)}, ref.T{Shape: []int{tc.out, tc.in}, Data: widen(wq)}, c.ro)
		require.NoError(t, err)
		requireClose(t, want.Data, values(t, b, y), tc.in)
	}
}

// positives returns n values in [0.5, 1.5), like trained (IA)³ vectors.
func positives(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 0.5 + r.Float32()
	}
	return out
}

// TestQuantMatMul multiplies batched a by a shared quantized b [R, C] with
// alpha, against the float64 reference: read transposed (a forward a·Wᵀ,
// K = C) and as stored (a Linear's backward dz·W, K = R), under both tiled
// kernels.
func TestQuantMatMul(t *testing.T) {
	for _, kernel := range matmulKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openWithKernel(t, kernel)
			r := rand.New(rand.NewPCG(5, 6))
			for _, q := range quantDTypes {
				for _, tc := range []struct {
					batch, m, rows, cols int
					transB               bool
				}{
					{1, 1, 1, 64, true}, {3, 7, 33, 128, true}, {2, 65, 70, 256, true}, {1, 4, 9, 512, true}, {1, 130, 129, 128, true},
					{1, 1, 1, 64, false}, {3, 7, 33, 128, false}, {2, 65, 70, 256, false}, {1, 3, 300, 64, false}, {1, 130, 140, 192, false},
				} {
					t.Run(fmt.Sprintf("%s %d×%d×[%d %d] transB=%v", q.dt, tc.batch, tc.m, tc.rows, tc.cols, tc.transB), func(t *testing.T) {
						w, wq := uploadQuant(t, b, q.dt, q.f, quantWeights(r, tc.rows, tc.cols), tc.rows, tc.cols)
						k, n := tc.cols, tc.rows
						if !tc.transB {
							k, n = n, k
						}
						ad := randoms(r, tc.batch*tc.m*k)
						out, err := b.MatMul(upload(t, b, ad, tc.batch, tc.m, k), w, backend.MatMulOptions{TransB: tc.transB, Alpha: 0.5})
						require.NoError(t, err)
						assert.Equal(t, []int{tc.batch, tc.m, n}, out.Shape())
						requireClose(t, matmulRef(ad, wq, tc.batch, tc.m, k, n, false, tc.transB, true, 0.5), values(t, b, out), k)
					})
				}
			}
		})
	}
}

// TestQuantScaleRowsCols checks the merge maths on quantized weights: the
// dequantised weight scaled (or unscaled) row- or column-wise, as F32.
func TestQuantScaleRowsCols(t *testing.T) {
	b := openWithKernel(t, "tile64")
	r := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 5, 128
	for _, q := range quantDTypes {
		w, wq := uploadQuant(t, b, q.dt, q.f, quantWeights(r, rows, cols), rows, cols)
		wr := ref.T{Shape: []int{rows, cols}, Data: widen(wq)}
		for _, invert := range []bool{false, true} {
			vr, vc := positives(r, rows), positives(r, cols)
			got, err := b.ScaleRows(w, upload(t, b, vr, rows), invert)
			require.NoError(t, err)
			assert.Equal(t, backend.F32, got.DType())
			want, err := ref.ScaleRows(wr, ref.T{Shape: []int{rows}, Data: widen(vr)}, invert)
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data, toF64(values(t, b, got)), 1e-5, "%s rows invert=%v", q.dt, invert)
			got, err = b.ScaleCols(w, upload(t, b, vc, cols), invert)
			require.NoError(t, err)
			want, err = ref.ScaleCols(wr, ref.T{Shape: []int{cols}, Data: widen(vc)}, invert)
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data, toF64(values(t, b, got)), 1e-5, "%s cols invert=%v", q.dt, invert)
		}
	}
}

// TestQuantRefusals checks that malformed quantized uploads and the
// operations that cannot read quantized weights fail with an error.
func TestQuantRefusals(t *testing.T) {
	b := openWithKernel(t, "tile64")
	r := rand.New(rand.NewPCG(9, 10))
	for _, q := range quantDTypes {
		data, err := quant.Quantize(q.f, randoms(r, 2*64), 2, 64)
		require.NoError(t, err)
		_, err = b.FromBytes(q.dt, data[:len(data)-1], 2, 64)
		assert.ErrorContains(t, err, "bytes", q.dt)
		_, err = b.FromBytes(q.dt, data, 128)
		assert.ErrorContains(t, err, "2-D", q.dt)
		half := q.f.BlockSize() / 2
		_, err = b.FromBytes(q.dt, data, 2*64/half, half)
		assert.ErrorContains(t, err, "block size", q.dt)
		w, err := b.FromBytes(q.dt, data, 2, 64)
		require.NoError(t, err)
		_, err = b.Linear(upload(t, b, randoms(r, 3*2), 3, 2), w, backend.LinearOptions{FanInFanOut: true})
		assert.ErrorContains(t, err, "fan_in_fan_out", q.dt)
		wv, err := b.View(w, 1, 2, 64)
		require.NoError(t, err)
		_, err = b.MatMul(upload(t, b, randoms(r, 3*64), 1, 3, 64), wv, backend.MatMulOptions{TransB: true})
		assert.ErrorContains(t, err, "2-D", q.dt)
		ids, err := b.FromInt32([]int32{0, 1}, 2)
		require.NoError(t, err)
		_, err = b.Gather(w, ids)
		assert.ErrorContains(t, err, q.dt.String(), q.dt)
		_, err = b.Add(w, w)
		assert.Error(t, err, q.dt)
	}
}

// TestQuantBindingLimit lowers the binding limit to 4 KiB: a Q8_0 weight
// over it ([128, 64]: 8704 bytes) is split by rows, an NF4 one (5320 bytes
// with its tables) is refused, since a part must hold whole
// double-quantization groups (256 rows of 64, 64 KiB as F32); one under
// it gives a Linear result too large for one binding, which is split, and
// so are its F32 copy and scaled copies.
func TestQuantBindingLimit(t *testing.T) {
	t.Setenv(webgpu.BindingLimitEnv, "4096")
	b := webgputest.Open(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, q := range []struct {
		dt            backend.DType
		f             quant.Format
		rows, in, out int // x [rows, in] fits 4 KiB, y [rows, out] does not
	}{{backend.Q8_0, quant.Q8_0, 32, 32, 64}, {backend.NF4, quant.NF4, 16, 64, 80}} {
		t.Run(q.dt.String(), func(t *testing.T) {
			data, err := quant.Quantize(q.f, randoms(r, 128*64), 128, 64)
			require.NoError(t, err)
			big, err := b.FromBytes(q.dt, data, 128, 64)
			if q.f == quant.NF4 {
				assert.ErrorContains(t, err, "a part must hold a multiple of 256 rows")
			} else {
				require.NoError(t, err)
				assert.Equal(t, 8, webgpu.SplitParts(big), "16 rows a part, whose F32 copies fit")
				b.Free(big)
			}

			w, wq := uploadQuant(t, b, q.dt, q.f, quantWeights(r, q.out, q.in), q.out, q.in)
			assert.Equal(t, 1, webgpu.SplitParts(w), "the weight fits one binding")
			xd := randoms(r, q.rows*q.in)
			bias := randoms(r, q.out)
			y, err := b.Linear(upload(t, b, xd, q.rows, q.in), w, backend.LinearOptions{Bias: upload(t, b, bias, q.out)})
			require.NoError(t, err)
			assert.Greater(t, webgpu.SplitParts(y), 1, "the result is split")
			want, err := ref.Linear(ref.T{Shape: []int{q.rows, q.in}, Data: widen(xd)}, ref.T{Shape: []int{q.out, q.in}, Data: widen(wq)},
				ref.LinearOpts{Bias: &ref.T{Shape: []int{q.out}, Data: widen(bias)}})
			require.NoError(t, err)
			requireClose(t, want.Data, values(t, b, y), q.in)

			// The weight's F32 copy is over the limit too: split by rows,
			// still bit for bit quant's dequantisation.
			assert.Equal(t, bits(wq), bits(values(t, b, w)), "ToFloat32")
			c, err := b.Copy(w)
			require.NoError(t, err)
			assert.Greater(t, webgpu.SplitParts(c), 1, "the F32 copy is split")
			assert.Equal(t, bits(wq), bits(values(t, b, c)), "Copy")
			vr, vc := positives(r, q.out), positives(r, q.in)
			wr := ref.T{Shape: []int{q.out, q.in}, Data: widen(wq)}
			got, err := b.ScaleRows(w, upload(t, b, vr, q.out), false)
			require.NoError(t, err)
			wantRows, err := ref.ScaleRows(wr, ref.T{Shape: []int{q.out}, Data: widen(vr)}, false)
			require.NoError(t, err)
			assert.InDeltaSlice(t, wantRows.Data, toF64(values(t, b, got)), 1e-5, "ScaleRows")
			got, err = b.ScaleCols(w, upload(t, b, vc, q.in), true)
			require.NoError(t, err)
			wantCols, err := ref.ScaleCols(wr, ref.T{Shape: []int{q.in}, Data: widen(vc)}, true)
			require.NoError(t, err)
			assert.InDeltaSlice(t, wantCols.Data, toF64(values(t, b, got)), 1e-5, "ScaleCols")
		})
	}
}

// TestQuantLinearEdges runs a quantized Linear on an empty batch and on a
// 1-D x.
func TestQuantLinearEdges(t *testing.T) {
	b := openWithKernel(t, "tile64")
	r := rand.New(rand.NewPCG(13, 14))
	for _, q := range quantDTypes {
		w, wq := uploadQuant(t, b, q.dt, q.f, quantWeights(r, 5, 64), 5, 64)
		empty, err := b.Zeros(0, 64)
		require.NoError(t, err)
		y, err := b.Linear(empty, w, backend.LinearOptions{})
		require.NoError(t, err, q.dt)
		assert.Equal(t, []int{0, 5}, y.Shape(), q.dt)
		xd := randoms(r, 64)
		y, err = b.Linear(upload(t, b, xd, 64), w, backend.LinearOptions{})
		require.NoError(t, err, q.dt)
		assert.Equal(t, []int{5}, y.Shape(), q.dt)
		requireClose(t, matmulRef(xd, wq, 1, 1, 64, 5, false, true, true, 1), values(t, b, y), 64)
	}
}

// quantSplitLimit is the binding limit of TestQuantSplit: 128 KiB, so that
// an NF4 part may hold whole double-quantization groups (64 KiB as F32 at
// least) and the weights below are split into several parts.
const quantSplitLimit = 128 << 10

// quantSplitCases are weights over quantSplitLimit: Q8_0 [300, 512]
// (163 200 bytes, 5 parts of 60 rows) and NF4 [1100, 256] (146 k bytes with
// its tables, parts of 128 rows, a multiple of the 64-row granularity; the
// last part of 76 rows ends with a short group of 48 blocks).
var quantSplitCases = []struct {
	dt          backend.DType
	f           quant.Format
	rows, cols  int
	parts       int
	linearRows  []int // rows of x in the Linear checks (NF4's 40: the result is split too)
	matmulBatch int
}{
	{backend.Q8_0, quant.Q8_0, 300, 512, 5, []int{3, 40}, 2},
	{backend.NF4, quant.NF4, 1100, 256, 9, []int{5, 40}, 2},
}

// TestQuantSplit checks quantized weights over the binding limit, held in
// several buffers of standalone quantized row ranges: ToFloat32 and Copy
// give quant's dequantisation bit for bit, Linear (every option), MatMul
// read transposed and as stored, ScaleRows and ScaleCols match the float64
// reference of the dequantised weight, and Free returns every part.
func TestQuantSplit(t *testing.T) {
	t.Setenv(webgpu.BindingLimitEnv, fmt.Sprint(quantSplitLimit))
	b := webgputest.OpenWebGPU(t)
	r := rand.New(rand.NewPCG(15, 16))
	for _, q := range quantSplitCases {
		t.Run(q.dt.String(), func(t *testing.T) {
			wd := quantWeights(r, q.rows, q.cols)
			before := webgpu.AllocatedBytes(b)
			w, _ := uploadQuant(t, b, q.dt, q.f, wd, q.rows, q.cols)
			require.Equal(t, q.parts, webgpu.SplitParts(w))
			b.Free(w)
			assert.Equal(t, before, webgpu.AllocatedBytes(b), "Free returns every part")
			_, err := b.ToFloat32(w)
			assert.ErrorContains(t, err, "after Free")

			w, wq := uploadQuant(t, b, q.dt, q.f, wd, q.rows, q.cols)
			assert.Equal(t, bits(wq), bits(values(t, b, w)), "ToFloat32")
			c, err := b.Copy(w)
			require.NoError(t, err)
			assert.Equal(t, q.parts, webgpu.SplitParts(c), "the F32 copy is split in the same rows")
			assert.Equal(t, bits(wq), bits(values(t, b, c)), "Copy")
			b.Free(c)

			wr := ref.T{Shape: []int{q.rows, q.cols}, Data: widen(wq)}
			vr, vc := positives(r, q.rows), positives(r, q.cols)
			got, err := b.ScaleRows(w, upload(t, b, vr, q.rows), true)
			require.NoError(t, err)
			want, err := ref.ScaleRows(wr, ref.T{Shape: []int{q.rows}, Data: widen(vr)}, true)
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data, toF64(values(t, b, got)), 1e-5, "ScaleRows")
			b.Free(got)
			got, err = b.ScaleCols(w, upload(t, b, vc, q.cols), false)
			require.NoError(t, err)
			want, err = ref.ScaleCols(wr, ref.T{Shape: []int{q.cols}, Data: widen(vc)}, false)
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data, toF64(values(t, b, got)), 1e-5, "ScaleCols")
			b.Free(got)

			for _, transB := range []bool{true, false} {
				k, n := q.cols, q.rows
				if !transB {
					k, n = n, k // a Linear's backward dz·W
				}
				ad := randoms(r, q.matmulBatch*3*k)
				out, err := b.MatMul(upload(t, b, ad, q.matmulBatch, 3, k), w, backend.MatMulOptions{TransB: transB, Alpha: 0.5})
				require.NoError(t, err, "transB=%v", transB)
				assert.Equal(t, []int{q.matmulBatch, 3, n}, out.Shape())
				requireClose(t, matmulRef(ad, wq, q.matmulBatch, 3, k, n, false, transB, true, 0.5), values(t, b, out), k)
			}

			_, err = b.Linear(upload(t, b, randoms(r, 3*q.rows), 3, q.rows), w, backend.LinearOptions{FanInFanOut: true})
			assert.ErrorContains(t, err, "fan_in_fan_out")
			for _, rows := range q.linearRows {
				t.Run(fmt.Sprintf("Linear %d rows", rows), func(t *testing.T) {
					runQuantLinear(t, b, r, q.dt, q.f, linearCase{rows: rows, in: q.cols, out: q.rows})
				})
			}
		})
	}
}

// TestQuantSplit70BShape uploads a Q8_0 weight of a 70B model's MLP shape,
// [28672, 8192] (about 250 MB), under the adapter's own binding limit (128
// MiB on lavapipe): it is held in several parts, and a Linear against it
// matches the float64 product of quant's dequantisation.
func TestQuantSplit70BShape(t *testing.T) {
	if testing.Short() {
		t.Skip("a 250 MB weight: not in -short runs")
	}
	const rows, cols = 28672, 8192
	b := webgputest.OpenWebGPU(t)
	l, err := quant.NewLayout(quant.Q8_0, rows, cols)
	require.NoError(t, err)
	data := make([]byte, l.Total)
	r := rand.New(rand.NewPCG(17, 18))
	for i := range l.CodesBytes {
		data[i] = byte(int8(r.IntN(255) - 127))
	}
	for j := range l.Blocks {
		h := quant.Float32ToHalf(0.0002 * float32(1+j%5))
		data[l.ScalesOffset+2*j], data[l.ScalesOffset+2*j+1] = byte(h), byte(h>>8)
	}
	w, err := b.FromBytes(backend.Q8_0, data, rows, cols)
	require.NoError(t, err)
	defer b.Free(w)
	assert.Greater(t, webgpu.SplitParts(w), 1, "over a 128 MiB binding")
	const m = 2
	xd := randoms(r, m*cols)
	y, err := b.Linear(upload(t, b, xd, m, cols), w, backend.LinearOptions{})
	require.NoError(t, err)
	got := values(t, b, y)

	mat, err := quant.NewMatrix(quant.Q8_0, data, rows, cols)
	require.NoError(t, err)
	want := make([]float64, m*rows)
	row := make([]float32, cols)
	for o := range rows {
		mat.Row(row, o, 0)
		for i := range m {
			var s float64
			for c, v := range row {
				s += float64(v) * float64(xd[i*cols+c])
			}
			want[i*rows+o] = s
		}
	}
	requireClose(t, want, got, cols)
}
