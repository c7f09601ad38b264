//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// splitLimit is the storage binding limit the split-tensor tests pretend
// the adapter has, so that tensors of a few thousand elements are split.
const splitLimit = 4096

// newSplitKit opens the adapter with its binding limit lowered to
// splitLimit bytes.
func newSplitKit(t *testing.T) *opKit {
	t.Setenv(webgpu.BindingLimitEnv, fmt.Sprint(splitLimit))
	return &opKit{t: t, b: webgputest.Open(t)}
}

// quarters returns n values that are multiples of 1/4 in [−8, 8), exact in
// F16 and BF16.
func quarters(seed, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((i*37+seed*11)%64-32) / 4
	}
	return out
}

// upBytes uploads values as dt storage.
func (k *opKit) upBytes(t *testing.T, dt backend.DType, values []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := k.b.FromBytes(dt, encodeFloats(t, dt, values), shape...)
	require.NoError(t, err)
	return x
}

func TestBindingLimitEnv(t *testing.T) {
	for _, bad := range []string{"x", "0", "12", "-5MiB"} {
		t.Setenv(webgpu.BindingLimitEnv, bad)
		_, err := webgpu.Open(t.Context(), "gpu:0")
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), webgpu.BindingLimitEnv)
	}
}

// TestSplitRoundTrip uploads tensors over the limit in every float dtype:
// they are held in several buffers and read back exactly; Copy widens them
// part by part and Free returns every part.
func TestSplitRoundTrip(t *testing.T) {
	k := newSplitKit(t)
	cases := []struct {
		dt    backend.DType
		shape []int
		parts int
	}{
		{backend.F32, []int{100, 24}, 3},    // 9600 bytes, 42 rows a part at most
		{backend.F16, []int{300, 7}, 3},     // odd rows: parts of an even row count
		{backend.BF16, []int{2, 80, 16}, 3}, // rows across the leading dimensions
		{backend.F32, []int{10, 100}, 1},    // at the limit: one buffer
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%v", c.dt, c.shape), func(t *testing.T) {
			n := 1
			for _, d := range c.shape {
				n *= d
			}
			vals := quarters(1, n)
			x := k.upBytes(t, c.dt, vals, c.shape...)
			assert.Equal(t, c.parts, webgpu.SplitParts(x))
			assert.Equal(t, vals, k.get(x))
			y, err := k.b.Copy(x)
			require.NoError(t, err)
			assert.Equal(t, backend.F32, y.DType())
			assert.Equal(t, vals, k.get(y))
			k.b.Free(y)
			k.b.Free(x)
		})
	}
}

func TestSplitFreeReturnsEveryPart(t *testing.T) {
	t.Setenv(webgpu.BindingLimitEnv, fmt.Sprint(splitLimit))
	b := webgputest.OpenWebGPU(t)
	before := webgpu.AllocatedBytes(b)
	x, err := b.FromFloat32(quarters(2, 3000), 100, 30)
	require.NoError(t, err)
	require.Equal(t, 3, webgpu.SplitParts(x))
	assert.GreaterOrEqual(t, webgpu.AllocatedBytes(b)-before, uint64(12000))
	b.Free(x)
	assert.Equal(t, before, webgpu.AllocatedBytes(b))
	_, err = b.ToFloat32(x)
	assert.ErrorContains(t, err, "after Free")
}

func TestSplitGather(t *testing.T) {
	k := newSplitKit(t)
	for _, c := range []struct {
		dt   backend.DType
		v, d int
	}{{backend.F32, 100, 24}, {backend.F32, 150, 9}, {backend.F16, 300, 7}, {backend.BF16, 200, 12}} {
		t.Run(fmt.Sprintf("%s/%dx%d", c.dt, c.v, c.d), func(t *testing.T) {
			table := quarters(3, c.v*c.d)
			tab := k.upBytes(t, c.dt, table, c.v, c.d)
			require.Greater(t, webgpu.SplitParts(tab), 1)
			ids := []int32{int32(c.v - 1), 0, 41, 42, int32(c.v / 2), 0, int32(c.v - 2), 99}
			y, err := k.b.Gather(tab, k.i32(ids, len(ids)))
			require.NoError(t, err)
			want := make([]float32, 0, len(ids)*c.d)
			for _, id := range ids {
				want = append(want, table[int(id)*c.d:int(id+1)*c.d]...)
			}
			assert.Equal(t, []int{len(ids), c.d}, y.Shape())
			assert.Equal(t, want, k.get(y))
		})
	}
	t.Run("id out of range", func(t *testing.T) {
		tab := k.upBytes(t, backend.F32, quarters(4, 2400), 100, 24)
		y, err := k.b.Gather(tab, k.i32([]int32{3, 100, -1}, 3))
		require.NoError(t, err)
		_, err = k.b.ToFloat32(y)
		assert.ErrorContains(t, err, "outside the table's rows")
	})
}

// TestSplitLinear runs Linear with weights held in several buffers (torch
// [out, in] split by output rows, Conv1D [in, out] split by input rows),
// with bias and (IA)³ scales, and with results too large for one buffer.
func TestSplitLinear(t *testing.T) {
	k := newSplitKit(t)
	cases := []struct {
		name              string
		dt                backend.DType
		rows, in, out     int
		fanInFanOut       bool
		bias, inSc, outSc bool
		wParts, yParts    int
	}{
		{"out rows", backend.F32, 3, 8, 300, false, true, true, true, 3, 1},
		{"out rows F16", backend.F16, 3, 7, 300, false, true, false, true, 3, 1},
		{"result split", backend.BF16, 40, 8, 300, false, true, true, true, 3, 14},
		{"plain weight, result split", backend.F32, 64, 16, 40, false, false, false, true, 1, 3},
		{"fan in fan out", backend.F32, 3, 300, 6, true, true, true, true, 2, 1},
		{"fan in fan out, result split", backend.F16, 10, 100, 200, true, true, false, true, 20, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := quarters(5, c.rows*c.in)
			wv := quarters(6, c.in*c.out)
			for i := range wv {
				wv[i] /= 16
			}
			var bias, inSc, outSc []float32
			var o backend.LinearOptions
			o.FanInFanOut = c.fanInFanOut
			if c.bias {
				bias = quarters(7, c.out)
				o.Bias = k.f32(bias, c.out)
			}
			if c.inSc {
				inSc = quarters(8, c.in)
				o.InScale = k.f32(inSc, c.in)
			}
			if c.outSc {
				outSc = quarters(9, c.out)
				o.OutScale = k.f32(outSc, c.out)
			}
			wShape := []int{c.out, c.in}
			if c.fanInFanOut {
				wShape = []int{c.in, c.out}
			}
			w := k.upBytes(t, c.dt, wv, wShape...)
			require.Equal(t, c.wParts, webgpu.SplitParts(w))
			y, err := k.b.Linear(k.f32(x, c.rows, c.in), w, o)
			require.NoError(t, err)
			assert.Equal(t, c.yParts, webgpu.SplitParts(y))
			assert.Equal(t, []int{c.rows, c.out}, y.Shape())
			want := linearRef{rows: c.rows, in: c.in, out: c.out, x: x, w: wv, bias: bias, outS: outSc, inS: inSc, fanInFanOut: c.fanInFanOut}.run()
			assertClose(t, want, k.get(y), 1e-4)
		})
	}
}

// TestSplitLinearStackedScales runs a mixed-adapter batch (stacked scales
// and a ScaleIndex) against a split weight with a split result.
func TestSplitLinearStackedScales(t *testing.T) {
	k := newSplitKit(t)
	const rows, in, out = 40, 8, 300
	x, wv := quarters(10, rows*in), quarters(11, in*out)
	s0, s1 := quarters(12, out), quarters(13, out)
	idx := make([]int32, rows)
	for r := range idx {
		idx[r] = int32(r%3) - 1 // −1 (unscaled), 0, 1
	}
	w := k.f32(wv, out, in)
	y, err := k.b.Linear(k.f32(x, rows, in), w, backend.LinearOptions{
		OutScale: k.f32(append(append([]float32{}, s0...), s1...), 2, out), ScaleIndex: k.i32(idx, rows)})
	require.NoError(t, err)
	require.Greater(t, webgpu.SplitParts(y), 1)
	want := linearRef{rows: rows, in: in, out: out, x: x, w: wv, outS: append(append([]float32{}, s0...), s1...), outStacked: true, idx: idx}.run()
	assertClose(t, want, k.get(y), 1e-4)
}

func TestSplitMatMul(t *testing.T) {
	k := newSplitKit(t)
	for _, c := range []struct {
		name     string
		dt       backend.DType
		m, kk, n int
		aT, bT   bool
	}{
		{"b split along K", backend.F32, 3, 300, 6, false, false},
		{"b split along K, a transposed", backend.BF16, 3, 300, 9, true, false},
		{"b transposed split along N", backend.F16, 3, 8, 300, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			av, bv := quarters(14, c.m*c.kk), quarters(15, c.kk*c.n)
			aShape, bShape := []int{c.m, c.kk}, []int{c.kk, c.n}
			if c.aT {
				aShape = []int{c.kk, c.m}
			}
			if c.bT {
				bShape = []int{c.n, c.kk}
			}
			bt := k.upBytes(t, c.dt, bv, bShape...)
			require.Greater(t, webgpu.SplitParts(bt), 1)
			y, err := k.b.MatMul(k.f32(av, aShape...), bt, backend.MatMulOptions{TransA: c.aT, TransB: c.bT, Alpha: 0.5})
			require.NoError(t, err)
			assert.Equal(t, []int{c.m, c.n}, y.Shape())
			assertClose(t, matmulRef(av, bv, 1, c.m, c.kk, c.n, c.aT, c.bT, true, 0.5), k.get(y), 1e-4)
		})
	}
	t.Run("batched a against a split b", func(t *testing.T) {
		av, bv := quarters(16, 2*2*200), quarters(17, 200*6)
		bt := k.f32(bv, 200, 6)
		require.Equal(t, 2, webgpu.SplitParts(bt))
		y, err := k.b.MatMul(k.f32(av, 2, 2, 200), bt, backend.MatMulOptions{})
		require.NoError(t, err)
		assertClose(t, matmulRef(av, bv, 2, 2, 200, 6, false, false, true, 1), k.get(y), 1e-4)
	})
}

func TestSplitScale(t *testing.T) {
	k := newSplitKit(t)
	const r, c = 300, 7
	wv := quarters(18, r*c)
	w := k.upBytes(t, backend.F16, wv, r, c)
	require.Equal(t, 3, webgpu.SplitParts(w))
	rowsV, colsV := make([]float32, r), []float32{2, 0.5, -1, 4, 0.25, 1, -2}
	for i := range rowsV {
		rowsV[i] = float32(i%5) - 2
	}
	for _, inv := range []bool{false, true} {
		y, err := k.b.ScaleRows(w, k.f32(rowsV, r), inv)
		require.NoError(t, err)
		z, err := k.b.ScaleCols(w, k.f32(colsV, c), inv)
		require.NoError(t, err)
		assert.Equal(t, 3, webgpu.SplitParts(y))
		wantY, wantZ := make([]float32, r*c), make([]float32, r*c)
		for i := range wv {
			sr, sc := rowsV[i/c], colsV[i%c]
			if inv {
				wantY[i], wantZ[i] = wv[i]/(sr+1e-8), wv[i]/(sc+1e-8)
			} else {
				wantY[i], wantZ[i] = wv[i]*sr, wv[i]*sc
			}
		}
		assertClose(t, widen(wantY), k.get(y), 1e-6)
		assertClose(t, widen(wantZ), k.get(z), 1e-6)
	}
}

// TestSplitLogits follows logits [B, T, V] too large for one buffer through
// what a forward pass does with them: a reshape, the last position, a
// slice of the vocabulary; an op that does not take split tensors refuses
// them with the sizes.
func TestSplitLogits(t *testing.T) {
	k := newSplitKit(t)
	const bsz, seq, v = 2, 20, 300
	vals := quarters(19, bsz*seq*v)
	x := k.f32(vals, bsz, seq, v)
	require.Equal(t, 14, webgpu.SplitParts(x))
	flat, err := k.b.View(x, bsz*seq, v)
	require.NoError(t, err)
	assert.Equal(t, vals, k.get(flat))
	_, err = k.b.View(x, bsz*seq*v/8, 8) // parts of 3 rows hold 900 elements
	assert.ErrorContains(t, err, "cut a row")

	last, err := k.b.Narrow(x, 1, seq-1, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, webgpu.SplitParts(last))
	assert.Equal(t, append(append([]float32{}, vals[(seq-1)*v:seq*v]...), vals[(2*seq-1)*v:]...), k.get(last))

	mid, err := k.b.Narrow(x, 1, 3, 15) // still over the limit: split again
	require.NoError(t, err)
	assert.Greater(t, webgpu.SplitParts(mid), 1)
	assert.Equal(t, append(append([]float32{}, vals[3*v:18*v]...), vals[(seq+3)*v:(seq+18)*v]...), k.get(mid))

	cols, err := k.b.Narrow(x, 2, 290, 10)
	require.NoError(t, err)
	want := make([]float32, 0, bsz*seq*10)
	for r := 0; r < bsz*seq; r++ {
		want = append(want, vals[r*v+290:r*v+300]...)
	}
	assert.Equal(t, want, k.get(cols))

	_, err = k.b.Softmax(x, backend.SoftmaxOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Softmax")
	assert.Contains(t, err.Error(), "[2 20 300]")
	assert.Contains(t, err.Error(), "lower --batch or --seq")
}

// TestSplitTrainingHead runs what a training step does with split logits
// [N, V] of a tied LM head: the cross-entropy and its gradient, the
// gradient scaled by the loss's upstream [1] gradient, summed with
// another, and carried back through the head (dlogits · W, W plain or
// split), against float64 references.
func TestSplitTrainingHead(t *testing.T) {
	k := newSplitKit(t)
	const n, v, d = 12, 300, 8
	logits := quarters(20, n*v)
	labels := []int32{5, 299, -100, 0, 17, 150, 151, -100, 42, 298, 1, 2}
	x := k.f32(logits, n, v)
	require.Equal(t, 4, webgpu.SplitParts(x))
	loss, dl, err := k.b.CrossEntropy(x, k.i32(labels, n), -100)
	require.NoError(t, err)
	assert.Equal(t, 4, webgpu.SplitParts(dl))

	count := 0
	for _, lab := range labels {
		if lab != -100 {
			count++
		}
	}
	var sum float64
	grad := make([]float64, n*v)
	for r, lab := range labels {
		if lab == -100 {
			continue
		}
		row := logits[r*v : (r+1)*v]
		m := float64(row[0])
		for _, l := range row {
			m = max(m, float64(l))
		}
		var z float64
		for _, l := range row {
			z += math.Exp(float64(l) - m)
		}
		sum += math.Log(z) + m - float64(row[lab])
		for j, l := range row {
			g := math.Exp(float64(l)-m) / z
			if j == int(lab) {
				g--
			}
			grad[r*v+j] = g / float64(count)
		}
	}
	assertClose(t, []float64{sum / float64(count)}, k.get(loss), 1e-5)
	assertClose(t, grad, k.get(dl), 1e-5)

	// scaleByScalar's view [N·V, 1] times a [1] gradient, then a sum.
	col, err := k.b.View(dl, n*v, 1)
	require.NoError(t, err)
	scaled, err := k.b.Mul(col, k.f32([]float32{2}, 1))
	require.NoError(t, err)
	back, err := k.b.View(scaled, n, v)
	require.NoError(t, err)
	thrice, err := k.b.Add(back, dl)
	require.NoError(t, err)
	want3 := make([]float64, len(grad))
	for i, g := range grad {
		want3[i] = 3 * g
	}
	assertClose(t, want3, k.get(thrice), 1e-5)

	// dx = dlogits · W for the tied head W [V, d]: split F32, split BF16.
	wv := quarters(21, v*d)
	for _, wt := range []backend.Tensor{k.f32(wv, v, d), k.upBytes(t, backend.BF16, wv, v, d)} {
		require.Greater(t, webgpu.SplitParts(wt), 1)
		dx, err := k.b.MatMul(thrice, wt, backend.MatMulOptions{})
		require.NoError(t, err)
		want := make([]float64, n*d)
		for r := 0; r < n; r++ {
			for c := 0; c < d; c++ {
				for j := 0; j < v; j++ {
					want[r*d+c] += want3[r*v+j] * float64(wv[j*d+c])
				}
			}
		}
		assertClose(t, want, k.get(dx), 1e-5)
	}
}
