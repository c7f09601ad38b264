package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
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

// TestNormBackwardMatchesReference checks both backward passes against
// conformance/ref's float64 closed forms (which its own tests check against
// central differences).
func TestNormBackwardMatchesReference(t *testing.T) {
	b := open(t)
	const rows, d = 3, 5
	xv, wv, dyv := random(11, rows*d), random(12, d), random(13, rows*d)
	x64, w64, dy64 := refT(t, xv, rows, d), refT(t, wv, d), refT(t, dyv, rows, d)
	const eps = 1e-5
	for _, rms := range []bool{false, true} {
		name := "layer_norm"
		if rms {
			name = "rms_norm"
		}
		t.Run(name, func(t *testing.T) {
			x, w, dy := f32s(t, b, xv, rows, d), f32s(t, b, wv, d), f32s(t, b, dyv, rows, d)
			var got backend.Tensor
			var want ref.T
			var err error
			if rms {
				got = must(t)(b.RMSNormBackward(x, w, dy, eps))
				want, err = ref.RMSNormBackward(x64, &w64, dy64, eps)
			} else {
				got = must(t)(b.LayerNormBackward(x, w, dy, eps))
				want, err = ref.LayerNormBackward(x64, &w64, dy64, eps)
			}
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data, values(t, b, got, rows, d), 1e-4)
		})
	}
}

// refT wraps float32 values as a conformance/ref tensor of that shape.
func refT(t testing.TB, x []float32, shape ...int) ref.T {
	t.Helper()
	data := make([]float64, len(x))
	for i, v := range x {
		data[i] = float64(v)
	}
	r, err := ref.FromData(data, shape...)
	require.NoError(t, err)
	return r
}
