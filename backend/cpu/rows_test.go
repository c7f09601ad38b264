package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ulps returns how many float32 steps got is from the float64 want.
func ulps(got float32, want float64) float64 {
	if want == 0 {
		return math.Abs(float64(got)) / 0x1p-149
	}
	step := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
	return math.Abs(float64(got)-want) / step
}

func TestExpShiftedMatchesMathExp(t *testing.T) {
	// Every argument the callers produce (x − max ≤ 0) down to underflow,
	// plus a few positive ones, at a length that leaves a scalar tail.
	const n = 200003
	x := make([]float32, n)
	for i := range x {
		x[i] = -88 + 90*float32(i)/n
	}
	dst := make([]float32, n)
	const shift = 0.75
	sum := expShifted(dst, x, shift)
	var want float64
	worst := 0.0
	for i, v := range x {
		e := math.Exp(float64(v - shift))
		want += e
		if e > 0x1p-126 { // normal results: within 2 ULP
			worst = max(worst, ulps(dst[i], e))
		} else {
			require.InDelta(t, e, dst[i], 0x1p-126, "exp(%v)", v-shift)
		}
	}
	assert.LessOrEqual(t, worst, 2.0, "largest error in ULP")
	assert.InEpsilon(t, want, sum, 1e-6)
}

func TestExpShiftedSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name  string
		x     float32
		want  float32
		isNaN bool
	}{
		{"zero", 0, 1, false},
		{"minus infinity", -inf, 0, false},
		{"far below underflow", -1e30, 0, false},
		{"NaN", float32(math.NaN()), 0, true},
		{"one", 1, float32(math.E), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Eight copies take the vector path where there is one, the
			// ninth the scalar tail.
			x := make([]float32, 9)
			for i := range x {
				x[i] = tc.x
			}
			dst := make([]float32, len(x))
			expShifted(dst, x, 0)
			for i, v := range dst {
				if tc.isNaN {
					assert.True(t, math.IsNaN(float64(v)), "element %d: %v", i, v)
					continue
				}
				assert.InEpsilon(t, float64(tc.want)+1e-30, float64(v)+1e-30, 3e-7, "element %d", i)
			}
		})
	}
}
