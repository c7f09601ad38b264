package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ia3/ia3/backend"
)

func TestNormsHandComputed(t *testing.T) {
	b := open(t)
	x := f32s(t, b, []float32{1, 2, 3, 4, -2, -2, 2, 2}, 2, 4)
	gamma := f32s(t, b, []float32{1, 2, 1, 1}, 4)
	beta := f32s(t, b, []float32{0, 0, 1, 0}, 4)
	// Row 1: mean 2.5, variance 1.25; row 2: mean 0, variance 4.
	s := 1 / math.Sqrt(1.25)
	ln := values(t, b, must(t)(b.LayerNorm(x, gamma, beta, 0)), 2, 4)
	assert.InDeltaSlice(t, []float64{-1.5 * s, -0.5 * s * 2, 0.5*s + 1, 1.5 * s, -1, -2, 2, 1}, ln, 1e-6)
	bare := values(t, b, must(t)(b.LayerNorm(x, nil, nil, 0)), 2, 4)
	assert.InDeltaSlice(t, []float64{-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s, -1, -1, 1, 1}, bare, 1e-6)
	// eps enters under the square root: variance 4 + 5 → divide by 3.
	eps := values(t, b, must(t)(b.LayerNorm(x, nil, nil, 5)), 2, 4)
	assert.InDeltaSlice(t, []float64{-2.0 / 3, -2.0 / 3, 2.0 / 3, 2.0 / 3}, eps[4:], 1e-6)

	// Row 1: mean square 7.5; row 2: mean square 4.
	r := 1 / math.Sqrt(7.5)
	rms := values(t, b, must(t)(b.RMSNorm(x, gamma, 0)), 2, 4)
	assert.InDeltaSlice(t, []float64{r, 4 * r, 3 * r, 4 * r, -1, -2, 1, 1}, rms, 1e-6)
	rmsEps := values(t, b, must(t)(b.RMSNorm(x, nil, 5)), 2, 4)
	assert.InDeltaSlice(t, []float64{-2.0 / 3, -2.0 / 3, 2.0 / 3, 2.0 / 3}, rmsEps[4:], 1e-6)
}

// refNorm is the float64 forward used to check the backward passes by
// central differences.
func refNorm(x, w []float64, eps float64, rms bool) []float64 {
	d := len(w)
	out := make([]float64, len(x))
	for r := 0; r < len(x); r += d {
		row := x[r : r+d]
		var mean, ms float64
		if !rms {
			for _, v := range row {
				mean += v
			}
			mean /= float64(d)
		}
		for _, v := range row {
			ms += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(ms/float64(d)+eps)
		for i, v := range row {
			out[r+i] = (v - mean) * inv * w[i]
		}
	}
	return out
}

func TestNormBackwardMatchesFiniteDifferences(t *testing.T) {
	b := open(t)
	const rows, d = 3, 5
	xv, wv, dyv := random(11, rows*d), random(12, d), random(13, rows*d)
	x64, w64 := make([]float64, len(xv)), make([]float64, d)
	for i, v := range xv {
		x64[i] = float64(v)
	}
	for i, v := range wv {
		w64[i] = float64(v)
	}
	const eps = 1e-5
	for _, rms := range []bool{false, true} {
		name := "layer_norm"
		if rms {
			name = "rms_norm"
		}
		t.Run(name, func(t *testing.T) {
			x, w, dy := f32s(t, b, xv, rows, d), f32s(t, b, wv, d), f32s(t, b, dyv, rows, d)
			var got backend.Tensor
			if rms {
				got = must(t)(b.RMSNormBackward(x, w, dy, eps))
			} else {
				got = must(t)(b.LayerNormBackward(x, w, dy, eps))
			}
			dx := values(t, b, got, rows, d)
			loss := func(x []float64) float64 {
				var s float64
				for i, y := range refNorm(x, w64, eps, rms) {
					s += y * float64(dyv[i])
				}
				return s
			}
			for i := range x64 {
				const h = 1e-6
				orig := x64[i]
				x64[i] = orig + h
				up := loss(x64)
				x64[i] = orig - h
				down := loss(x64)
				x64[i] = orig
				assert.InDelta(t, (up-down)/(2*h), dx[i], 1e-4, "dx[%d]", i)
			}
		})
	}
}
