package ref

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ia3/ia3/backend"
	"github.com/stretchr/testify/require"
)

// numGrad returns the central finite difference (f(x+h) − f(x−h)) / 2h of a
// scalar function with respect to every element of x (restored after).
func numGrad(f func() float64, x []float64, h float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		old := x[i]
		x[i] = old + h
		up := f()
		x[i] = old - h
		down := f()
		x[i] = old
		g[i] = (up - down) / (2 * h)
	}
	return g
}

// dot returns Σ a⊙b: the scalar loss L = Σ dy ⊙ y whose gradient is the
// backward of y's operation applied to dy.
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func randT(r *rand.Rand, mean float64, shape ...int) T {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = mean + r.NormFloat64()
	}
	return t
}

// requireGradClose asserts that an analytic and a numeric gradient agree to
// 1e-6 relative to the largest entry: h = 1e-5 leaves a truncation error
// of order h² and a rounding error of order 1e-16/h, both far below.
func requireGradClose(t *testing.T, want, got []float64) {
	t.Helper()
	require.Len(t, got, len(want))
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	require.Greater(t, scale, 0.0, "a gradient that is zero everywhere proves nothing")
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-6*scale, "element %d", i)
	}
}

const fdStep = 1e-5

func TestActivationBackwardMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, f := range []backend.Unary{backend.GELUErf, backend.GELUTanh, backend.ReLU, backend.SiLU, backend.Tanh, backend.Sigmoid} {
		t.Run(f.String(), func(t *testing.T) {
			x, dy := randT(r, 0, 3, 7), randT(r, 0, 3, 7)
			loss := func() float64 {
				y, err := Activation(f, x)
				require.NoError(t, err)
				return dot(dy.Data, y.Data)
			}
			got, err := ActivationBackward(f, x, dy)
			require.NoError(t, err)
			requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
		})
	}
}

func TestSwiGLUBackwardMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gate, up, dy := randT(r, 0, 2, 9), randT(r, 0, 2, 9), randT(r, 0, 2, 9)
	loss := func() float64 {
		y, err := SwiGLU(gate, up)
		require.NoError(t, err)
		return dot(dy.Data, y.Data)
	}
	dgate, dup, err := SwiGLUBackward(gate, up, dy)
	require.NoError(t, err)
	requireGradClose(t, numGrad(loss, gate.Data, fdStep), dgate.Data)
	requireGradClose(t, numGrad(loss, up.Data, fdStep), dup.Data)
}

func TestNormBackwardMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gamma := randT(r, 1, 11)
	beta := randT(r, 0, 11)
	for _, tc := range []struct {
		name  string
		gamma *T
	}{{"gamma", &gamma}, {"no gamma", nil}} {
		t.Run("LayerNorm "+tc.name, func(t *testing.T) {
			x, dy := randT(r, 0.5, 3, 11), randT(r, 0, 3, 11)
			loss := func() float64 {
				y, err := LayerNorm(x, tc.gamma, &beta, 1e-5)
				require.NoError(t, err)
				return dot(dy.Data, y.Data)
			}
			got, err := LayerNormBackward(x, tc.gamma, dy, 1e-5)
			require.NoError(t, err)
			requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
		})
		t.Run("RMSNorm "+tc.name, func(t *testing.T) {
			x, dy := randT(r, 0.5, 3, 11), randT(r, 0, 3, 11)
			loss := func() float64 {
				y, err := RMSNorm(x, tc.gamma, 1e-6)
				require.NoError(t, err)
				return dot(dy.Data, y.Data)
			}
			got, err := RMSNormBackward(x, tc.gamma, dy, 1e-6)
			require.NoError(t, err)
			requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
		})
	}
}

func TestSoftmaxBackwardMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	mask := New(2, 6)
	for i := range mask.Data {
		mask.Data[i] = 1
	}
	mask.Data[1] = 0 // batch 0 masks key 1
	bias := randT(r, 0, 3, 4, 6)
	o := SoftmaxOpts{Scale: 0.7, Causal: true, KeyMask: &mask, Bias: &bias}
	x, dy := randT(r, 0, 2, 3, 4, 6), randT(r, 0, 2, 3, 4, 6)
	loss := func() float64 {
		y, err := Softmax(x, o)
		require.NoError(t, err)
		return dot(dy.Data, y.Data)
	}
	y, err := Softmax(x, o)
	require.NoError(t, err)
	got, err := SoftmaxBackward(y, dy, o.Scale)
	require.NoError(t, err)
	requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
}

func TestRopeInverseIsTheGradientOfRope(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	invFreq := []float64{1, 0.3, 0.05}
	for _, pos := range [][]int{{0, 5, 17}, {0, 1, 2, 9, 8, 7}} {
		x, dy := randT(r, 0, 2, 2, 3, 8), randT(r, 0, 2, 2, 3, 8)
		loss := func() float64 {
			y, err := Rope(x, invFreq, pos, false)
			require.NoError(t, err)
			return dot(dy.Data, y.Data)
		}
		got, err := Rope(dy, invFreq, pos, true)
		require.NoError(t, err)
		requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
	}
}

func TestSumKVIsTheGradientOfRepeatKV(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x, dy := randT(r, 0, 2, 3, 4, 5), randT(r, 0, 2, 6, 4, 5)
	loss := func() float64 {
		y, err := RepeatKV(x, 2)
		require.NoError(t, err)
		return dot(dy.Data, y.Data)
	}
	got, err := SumKV(dy, 2)
	require.NoError(t, err)
	requireGradClose(t, numGrad(loss, x.Data, fdStep), got.Data)
}

func TestScatterAddRowsIsTheGradientOfGather(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	table := randT(r, 0, 5, 4)
	ids := []int{3, 0, 3, 3, 1} // repeats accumulate; row 2 and 4 get nothing
	dy := randT(r, 0, len(ids), 4)
	loss := func() float64 {
		y, err := Gather(table, ids)
		require.NoError(t, err)
		return dot(dy.Data, y.Data)
	}
	got, err := ScatterAddRows(5, ids, dy)
	require.NoError(t, err)
	requireGradClose(t, numGrad(loss, table.Data, fdStep), got.Data)
}

func TestCrossEntropyGradientMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	logits := randT(r, 0, 4, 7)
	labels := []int{2, -100, 6, 0}
	loss := func() float64 {
		l, _, err := CrossEntropy(logits, labels, -100)
		require.NoError(t, err)
		return l
	}
	_, grad, err := CrossEntropy(logits, labels, -100)
	require.NoError(t, err)
	requireGradClose(t, numGrad(loss, logits.Data, fdStep), grad.Data)
	for j := 0; j < 7; j++ {
		require.Zero(t, grad.Data[7+j], "ignored row 1 has no gradient")
	}
}

func TestExpertLinearBackwardIsTheGradientOfX(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ws := []T{randT(r, 0, 5, 3), randT(r, 0, 5, 3), randT(r, 0, 5, 3)}
	ids := []int{2, 0, 1, 1, 0, 2, 2, 2} // [4, 2]
	for _, shape := range [][]int{{4, 3}, {4, 2, 3}} {
		x := randT(r, 0, shape...)
		dy := randT(r, 0, 4, 2, 5)
		loss := func() float64 {
			y, err := ExpertLinear(x, ws, ids, 2, false)
			require.NoError(t, err)
			return dot(dy.Data, y.Data)
		}
		dx, err := ExpertLinear(dy, ws, ids, 2, true)
		require.NoError(t, err)
		got := dx.Data
		if len(shape) == 2 { // a shared row's gradient sums its slots
			got = make([]float64, x.Len())
			for s := range 8 {
				for i := range 3 {
					got[(s/2)*3+i] += dx.Data[s*3+i]
				}
			}
		}
		requireGradClose(t, numGrad(loss, x.Data, fdStep), got)
	}
}
