package cpu

import (
	"math"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func TestBinaryBroadcast(t *testing.T) {
	b := open(t)
	a := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	row := f32s(t, b, []float32{10, 20, 30}, 3)
	scalar := f32s(t, b, []float32{2})
	tests := []struct {
		name string
		op   func(x, y backend.Tensor) (backend.Tensor, error)
		y    backend.Tensor
		want []float32
	}{
		{"add same", b.Add, a, []float32{2, 4, 6, 8, 10, 12}},
		{"add row", b.Add, row, []float32{11, 22, 33, 14, 25, 36}},
		{"sub row", b.Sub, row, []float32{-9, -18, -27, -6, -15, -24}},
		{"mul row", b.Mul, row, []float32{10, 40, 90, 40, 100, 180}},
		{"mul scalar", b.Mul, scalar, []float32{2, 4, 6, 8, 10, 12}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, values(t, b, must(t)(tc.op(a, tc.y)), 2, 3))
		})
	}
	assert.Equal(t, []float32{3, 5, 7, 9, 11, 13}, values(t, b, must(t)(b.Affine(a, 2, 1)), 2, 3))
}

func TestBinaryLargeParallel(t *testing.T) {
	b := open(t)
	const rows, cols = 300, 257
	av, bv := random(1, rows*cols), random(2, cols)
	got := values(t, b, must(t)(b.Sub(f32s(t, b, av, rows, cols), f32s(t, b, bv, cols))), rows, cols)
	for i, v := range got {
		require.Equal(t, av[i]-bv[i%cols], v)
	}
}

func TestActivations(t *testing.T) {
	b := open(t)
	xs := []float32{-1.5, 0.5, 2}
	// Values and derivatives from Python's math module (float64).
	tests := []struct {
		f        backend.Unary
		want, dy []float64
	}{
		{backend.GELUErf, []float64{-0.10021080190328713, 0.34573123063700656, 1.9544997361036416},
			[]float64{-0.12746919220846253, 0.8674951246512297, 1.0852318009790807}},
		{backend.GELUTanh, []float64{-0.10042842301976707, 0.34571400982514394, 1.954597694087775},
			[]float64{-0.12771079314910505, 0.8673699034844606, 1.086099256641937}},
		{backend.ReLU, []float64{0, 0.5, 2}, []float64{0, 1, 1}},
		{backend.SiLU, []float64{-0.2736382857095345, 0.3112296656009273, 1.7615941559557646},
			[]float64{-0.04129415429043881, 0.7399611872960232, 1.0907842488139252}},
		{backend.Tanh, []float64{-0.9051482536448664, 0.46211715726000974, 0.9640275800758169},
			[]float64{0.180706638930328, 0.786447733019946, 0.07065082485713248}},
		{backend.Sigmoid, []float64{0.18242552380635635, 0.6224593312018546, 0.8807970779778823},
			[]float64{0.1491464520497754, 0.23500371221230054, 0.10499358538140768}},
		// log(−1.5) is NaN, as math.log refuses it and torch.log gives NaN.
		{backend.Log, []float64{math.NaN(), -0.6931471805599453, 0.6931471805599453},
			[]float64{-1 / 1.5, 2, 0.5}},
	}
	x := f32s(t, b, xs, 3)
	dy := f32s(t, b, []float32{2, 2, 2}, 3)
	for _, tc := range tests {
		t.Run(tc.f.String(), func(t *testing.T) {
			y := values(t, b, must(t)(b.Activation(tc.f, x)), 3)
			dx := values(t, b, must(t)(b.ActivationBackward(tc.f, x, dy)), 3)
			for i := range xs {
				if math.IsNaN(tc.want[i]) {
					assert.True(t, math.IsNaN(float64(y[i])), "f(%v) = %v, want NaN", xs[i], y[i])
				} else {
					assert.InDelta(t, tc.want[i], y[i], 1e-7, "f(%v)", xs[i])
				}
				assert.InDelta(t, 2*tc.dy[i], dx[i], 1e-6, "f'(%v)", xs[i])
			}
		})
	}
}

func TestSwiGLU(t *testing.T) {
	b := open(t)
	gate := f32s(t, b, []float32{-1.5, 0.5, 2}, 3)
	up := f32s(t, b, []float32{2, -1, 3}, 3)
	y := values(t, b, must(t)(b.SwiGLU(gate, up)), 3)
	assert.InDeltaSlice(t, []float64{-0.5472765714190690, -0.3112296656009273, 5.284782467867294}, y, 1e-6)

	dgT, duT, err := b.SwiGLUBackward(gate, up, f32s(t, b, []float32{1, 2, -1}, 3))
	require.NoError(t, err)
	dg, du := values(t, b, dgT, 3), values(t, b, duT, 3)
	// d(gate) = dy·up·silu'(gate); d(up) = dy·silu(gate).
	assert.InDeltaSlice(t, []float64{2 * -0.04129415429043881, -2 * 0.7399611872960232, -3 * 1.0907842488139252}, dg, 1e-6)
	assert.InDeltaSlice(t, []float64{-0.2736382857095345, 2 * 0.3112296656009273, -1.7615941559557646}, du, 1e-6)
}
