package ref

import (
	"math"
	"testing"

	"github.com/ia3/ia3/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeHalfPrecision(t *testing.T) {
	for _, tc := range []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0},
		{0x8000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x0001, math.Pow(2, -24)}, // smallest subnormal
		{0x03ff, 1023 * math.Pow(2, -24)},
		{0x0400, math.Pow(2, -14)}, // smallest normal
		{0x7bff, 65504},
		{0x7c00, math.Inf(1)},
		{0xfc00, math.Inf(-1)},
	} {
		assert.Equal(t, tc.want, F16(tc.bits), "F16(%#04x)", tc.bits)
	}
	assert.True(t, math.IsNaN(F16(0x7e00)))

	// bfloat16 is the top half of a float32: check every pattern.
	for b := 0; b <= 0xffff; b++ {
		want := float64(math.Float32frombits(uint32(b) << 16))
		got := BF16(uint16(b))
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got), "BF16(%#04x)", b)
			continue
		}
		require.Equal(t, want, got, "BF16(%#04x)", b)
	}
}

func TestActivationValues(t *testing.T) {
	for _, tc := range []struct {
		f    backend.Unary
		x    float64
		want float64
	}{
		{backend.GELUErf, 1, 0.8413447460685429},  // x·Φ(x)
		{backend.GELUTanh, 1, 0.8411919906082768}, // the tanh form differs in the 4th digit
		{backend.GELUErf, -3, -0.004049694095729}, // tails: erf form
		{backend.SiLU, 2, 1.7615941559557649},
		{backend.ReLU, -0.5, 0},
		{backend.Sigmoid, 0, 0.5},
		{backend.Tanh, 0.5, 0.46211715726000974},
	} {
		got, err := Act(tc.f, tc.x)
		require.NoError(t, err)
		assert.InDelta(t, tc.want, got, 1e-12, "%v(%v)", tc.f, tc.x)
	}
	_, err := Act(backend.Unary(99), 1)
	require.Error(t, err)
}

func TestSoftmaxMasks(t *testing.T) {
	x, err := FromData([]float64{
		1, 2, 3, // query 0: causal with Tk−Tq = 1 sees keys 0, 1
		1, 2, 3, // query 1 sees every key
	}, 1, 1, 2, 3)
	require.NoError(t, err)
	y, err := Softmax(x, SoftmaxOpts{Scale: 1, Causal: true})
	require.NoError(t, err)
	e := math.E
	assert.InDeltaSlice(t, []float64{1 / (1 + e), e / (1 + e), 0}, y.Data[:3], 1e-15)
	s := 1 + e + e*e
	assert.InDeltaSlice(t, []float64{1 / s, e / s, e * e / s}, y.Data[3:], 1e-15)

	mask, err := FromData([]float64{0, 0, 0}, 1, 3)
	require.NoError(t, err)
	y, err = Softmax(x, SoftmaxOpts{Scale: 2, KeyMask: &mask})
	require.NoError(t, err)
	for _, v := range y.Data {
		assert.InDelta(t, 1.0/3, v, 1e-15, "a fully masked row is uniform")
	}
}

func TestRopeRotatesPairsAndCopiesTheRest(t *testing.T) {
	x, err := FromData([]float64{1, 2, 3, 4, 5}, 1, 1, 1, 5)
	require.NoError(t, err)
	y, err := Rope(x, []float64{0.5, 0}, []int{2}, false)
	require.NoError(t, err)
	// Pairs (0, 2) by angle 1 and (1, 3) by angle 0; feature 4 copied.
	c, s := math.Cos(1), math.Sin(1)
	assert.InDeltaSlice(t, []float64{1*c - 3*s, 2, 3*c + 1*s, 4, 5}, y.Data, 1e-15)
	back, err := Rope(y, []float64{0.5, 0}, []int{2}, true)
	require.NoError(t, err)
	assert.InDeltaSlice(t, x.Data, back.Data, 1e-15)
}

func TestCrossEntropyIgnoredRows(t *testing.T) {
	logits, err := FromData([]float64{0, 0, 1, 1}, 2, 2)
	require.NoError(t, err)
	loss, grad, err := CrossEntropy(logits, []int{1, -1}, -1)
	require.NoError(t, err)
	assert.InDelta(t, math.Ln2, loss, 1e-15)
	assert.InDeltaSlice(t, []float64{0.5, -0.5, 0, 0}, grad.Data, 1e-15)

	loss, grad, err = CrossEntropy(logits, []int{-1, -1}, -1)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(loss), "no counted row: NaN loss")
	assert.Equal(t, []float64{0, 0, 0, 0}, grad.Data)
}

func TestAdamWFirstStepMovesByLR(t *testing.T) {
	// At step 1 the bias-corrected update is g/(|g| + eps·…) ≈ sign(g).
	p, m, v, err := AdamW([]float64{1, 1}, []float64{0.5, -2}, []float64{0, 0}, []float64{0, 0},
		AdamWOpts{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1})
	require.NoError(t, err)
	decayed := 1 * (1 - 0.1*0.01)
	assert.InDeltaSlice(t, []float64{decayed - 0.1, decayed + 0.1}, p, 1e-7)
	assert.InDeltaSlice(t, []float64{0.05, -0.2}, m, 1e-15)
	assert.InDeltaSlice(t, []float64{0.00025, 0.004}, v, 1e-15)
}

func TestScaleRowsInvertAddsUnmergeEps(t *testing.T) {
	w, err := FromData([]float64{1, 2, 3, 4}, 2, 2)
	require.NoError(t, err)
	v, err := FromData([]float64{0, 2}, 2)
	require.NoError(t, err)
	got, err := ScaleRows(w, v, true)
	require.NoError(t, err)
	assert.Equal(t, []float64{1e8, 2e8, 3 / (2 + 1e-8), 4 / (2 + 1e-8)}, got.Data)
	got, err = ScaleCols(w, v, false)
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 4, 0, 8}, got.Data)
}

func TestLinearStackedScales(t *testing.T) {
	x, err := FromData([]float64{1, 2, 1, 2, 1, 2}, 3, 2)
	require.NoError(t, err)
	w, err := FromData([]float64{1, 0, 0, 1, 1, 1}, 3, 2) // [out 3, in 2]
	require.NoError(t, err)
	out, err := FromData([]float64{2, 2, 2, 10, 10, 10}, 2, 3)
	require.NoError(t, err)
	y, err := Linear(x, w, LinearOpts{OutScale: &out, ScaleIndex: []int{0, -1, 1}})
	require.NoError(t, err)
	assert.Equal(t, []float64{2, 4, 6, 1, 2, 3, 10, 20, 30}, y.Data)

	wt, err := Permute(w, 1, 0)
	require.NoError(t, err)
	y2, err := Linear(x, wt, LinearOpts{FanInFanOut: true, OutScale: &out, ScaleIndex: []int{0, -1, 1}})
	require.NoError(t, err)
	assert.Equal(t, y.Data, y2.Data)

	_, err = Linear(x, w, LinearOpts{OutScale: &out, ScaleIndex: []int{0, 2, 1}})
	require.Error(t, err, "index past the stack")
}

func TestMalformedInputsReturnErrors(t *testing.T) {
	a, b := New(2, 3), New(4)
	_, err := Add(a, b)
	require.ErrorContains(t, err, "suffix")
	_, err = MatMul(New(2, 3), New(4, 5), false, false, 1)
	require.ErrorContains(t, err, "inner dimensions")
	_, err = Narrow(a, 1, 2, 2)
	require.Error(t, err)
	_, err = Gather(New(3, 2), []int{3})
	require.Error(t, err)
	_, err = FromData([]float64{1}, 2)
	require.Error(t, err)
	_, err = Permute(a, 0, 0)
	require.Error(t, err)
}

func TestTopKOrderTiesAndNaN(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	x, err := FromData([]float64{
		0.5, 2, 2, -1, // ties go to the lower index
		1, nan, 3, 4, // a NaN row gives its first k
		-inf, -inf, inf, -inf,
	}, 3, 4)
	require.NoError(t, err)
	got, err := TopK(x, 3)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 0, 0, 1, 2, 2, 0, 1}, got.Data)
	_, err = TopK(x, 5)
	assert.ErrorContains(t, err, "k 5 outside [1, 4]")
}
