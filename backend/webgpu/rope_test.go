//go:build cgo && !nowebgpu

package webgpu_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

func TestRopeHandValues(t *testing.T) {
	k := newOpKit(t)
	// D = 4, R = 2: features 0 and 1 turn by pos·1 rad, features 2 and 3
	// are copied. At position 0 nothing moves; at position 1,
	// (x0, x1) = (1, 2) becomes (cos 1 − 2 sin 1, 2 cos 1 + sin 1).
	x := k.f32([]float32{1, 2, 3, 4, 1, 2, 3, 4}, 1, 1, 2, 4)
	o := backend.RopeOptions{InvFreq: k.f32([]float32{1}, 1), Positions: k.i32([]int32{0, 1}, 2)}
	y, err := k.b.Rope(x, o)
	require.NoError(t, err)
	c, s := math.Cos(1), math.Sin(1)
	assertClose(t, []float64{1, 2, 3, 4, c - 2*s, 2*c + s, 3, 4}, k.get(y), 1e-6)
}

func TestRope(t *testing.T) {
	k := newOpKit(t)
	for _, tc := range []struct {
		name     string
		b, h, t  int
		d, r     int
		perBatch bool
		inverse  bool
		posScale int32 // positions are posScale·(index) + offset
	}{
		{name: "full rotation", b: 2, h: 3, t: 5, d: 8, r: 8, posScale: 1},
		{name: "partial rotation", b: 1, h: 2, t: 4, d: 10, r: 4, posScale: 1},
		{name: "per-batch positions", b: 3, h: 2, t: 4, d: 6, r: 6, perBatch: true, posScale: 3},
		{name: "inverse", b: 2, h: 1, t: 3, d: 16, r: 12, inverse: true, posScale: 1},
		{name: "long context", b: 1, h: 1, t: 8, d: 64, r: 64, posScale: 4093},
		{name: "angles past 10^5 rad", b: 1, h: 1, t: 8, d: 8, r: 8, posScale: 57301},
		{name: "head dim 128", b: 1, h: 2, t: 3, d: 128, r: 128, posScale: 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.b * tc.h * tc.t * tc.d
			x := randVals(uint64(n), n, 0, 2)
			freq := make([]float32, tc.r/2)
			for i := range freq {
				freq[i] = float32(1 / math.Pow(10000, float64(2*i)/float64(tc.r)))
			}
			npos := tc.t
			if tc.perBatch {
				npos = tc.b * tc.t
			}
			pos := make([]int32, npos)
			for i := range pos {
				pos[i] = tc.posScale*int32(i) + int32(i%3)
			}
			o := backend.RopeOptions{InvFreq: k.f32(freq, len(freq)), Inverse: tc.inverse}
			if tc.perBatch {
				o.Positions = k.i32(pos, tc.b, tc.t)
			} else {
				o.Positions = k.i32(pos, tc.t)
			}
			xt := k.f32(x, tc.b, tc.h, tc.t, tc.d)
			y, err := k.b.Rope(xt, o)
			require.NoError(t, err)
			want := refRope(t, x, freq, pos, tc.b, tc.h, tc.t, tc.d, tc.perBatch, tc.inverse)
			assertClose(t, want, k.get(y), 2e-6)

			// Turning back recovers x.
			o.Inverse = !o.Inverse
			back, err := k.b.Rope(y, o)
			require.NoError(t, err)
			assertClose(t, widen(x), k.get(back), 2e-6)
		})
	}
}

// refRope is conformance/ref's Rope with each angle the float32 product
// pos·inv_freq, as transformers computes it: row by row, the angles are
// passed as the inverse frequencies at position 1.
func refRope(t testing.TB, x, freq []float32, pos []int32, b, h, tt, d int, perBatch, inverse bool) []float64 {
	t.Helper()
	out := make([]float64, 0, len(x))
	angles := make([]float64, len(freq))
	for r := 0; r < b*h*tt; r++ {
		p := pos[r%tt]
		if perBatch {
			p = pos[r/(h*tt)*tt+r%tt]
		}
		for i, f := range freq {
			angles[i] = float64(float32(p) * f)
		}
		row := refOK(t)(ref.Rope(refT(t, x[r*d:(r+1)*d], 1, 1, 1, d), angles, []int{1}, inverse))
		out = append(out, row...)
	}
	return out
}
