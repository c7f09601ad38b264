package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func TestScaleRowsCols(t *testing.T) {
	b := open(t)
	w := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	wHalf, _ := upload(t, b, backend.BF16, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	rows := f32s(t, b, []float32{2, 0.5}, 2)
	cols := f32s(t, b, []float32{2, 0.5, 4}, 3)
	zero := f32s(t, b, []float32{0, 4, 1}, 3)
	tests := []struct {
		name   string
		op     func(w, v backend.Tensor, invert bool) (backend.Tensor, error)
		w, v   backend.Tensor
		invert bool
		want   []float32
	}{
		{"rows", b.ScaleRows, w, rows, false, []float32{2, 4, 6, 2, 2.5, 3}},
		{"rows bf16", b.ScaleRows, wHalf, rows, false, []float32{2, 4, 6, 2, 2.5, 3}},
		{"rows invert", b.ScaleRows, w, rows, true, []float32{0.5, 1, 1.5, 8, 10, 12}},
		{"cols", b.ScaleCols, w, cols, false, []float32{2, 1, 12, 8, 2.5, 24}},
		{"cols invert", b.ScaleCols, w, cols, true, []float32{0.5, 4, 0.75, 2, 10, 1.5}},
		// PEFT divides by v + 1e-8, so a zero entry does not give infinity.
		{"cols invert zero", b.ScaleCols, w, zero, true, []float32{1 / float32(1e-8), 0.5, 3, 4 / float32(1e-8), 1.25, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, values(t, b, must(t)(tc.op(tc.w, tc.v, tc.invert)), 2, 3))
		})
	}
}

func TestWeightedSumAllFinite(t *testing.T) {
	b := open(t)
	xs := []backend.Tensor{f32s(t, b, []float32{1, 2}, 2), f32s(t, b, []float32{3, 4}, 2)}
	got := values(t, b, must(t)(b.WeightedSum(xs, []float32{0.6, 0.4})), 2)
	assert.InDeltaSlice(t, []float64{1.8, 2.8}, got, 1e-6)

	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	for _, tc := range []struct {
		data []float32
		want bool
	}{{[]float32{1, -2, 3e38}, true}, {[]float32{1, nan}, false}, {[]float32{inf, 0}, false}} {
		ok, err := b.AllFinite(f32s(t, b, tc.data, len(tc.data)))
		require.NoError(t, err)
		assert.Equal(t, tc.want, ok, "%v", tc.data)
	}
}

func TestAdamWTwoSteps(t *testing.T) {
	b := open(t)
	p := f32s(t, b, []float32{1, -2}, 2)
	g := f32s(t, b, []float32{0.5, -0.1}, 2)
	m, v := must(t)(b.Zeros(2)), must(t)(b.Zeros(2))
	o := backend.AdamWOptions{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1}
	require.NoError(t, b.AdamW(p, g, m, v, o))
	// Decay by 1 − lr·wd, then a bias-corrected step of lr·sign(g) on step 1.
	assert.InDeltaSlice(t, []float64{0.999 - 0.1, -1.998 + 0.1}, values(t, b, p, 2), 1e-6)
	assert.InEpsilonSlice(t, []float32{0.05, -0.01}, values(t, b, m, 2), 1e-6)
	assert.InEpsilonSlice(t, []float32{0.00025, 0.00001}, values(t, b, v, 2), 1e-6)

	o.Step = 2
	require.NoError(t, b.AdamW(p, g, m, v, o))
	// m = 0.9m + 0.1g, v̂/ĉ = g², step size lr/(1 − 0.9²): again lr per unit.
	assert.InDeltaSlice(t, []float64{0.899*0.999 - 0.1, -1.898*0.999 + 0.1}, values(t, b, p, 2), 1e-6)
	assert.InEpsilonSlice(t, []float32{0.095, -0.019}, values(t, b, m, 2), 1e-6)
}
