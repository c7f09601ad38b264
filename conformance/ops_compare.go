package conformance

import (
	"fmt"
	"math"
	"slices"

	"github.com/ia3/ia3/conformance/ref"
)

// compare checks a downloaded result against its reference. It returns the
// largest absolute difference over finite entries and that difference
// relative to the largest finite reference magnitude (when the reference is
// all zeros, any difference gives an infinite relative error), or to floor
// when floor is larger. A wrong
// shape or a non-finite value where the reference has another one is an
// error: NaN must match NaN and an infinity the same infinity.
func compare(got []float64, gotShape []int, want ref.T, floor float64) (maxAbs, maxRel float64, err error) {
	if !slices.Equal(gotShape, want.Shape) {
		return 0, 0, fmt.Errorf("shape %v, want %v", gotShape, want.Shape)
	}
	if len(got) != len(want.Data) {
		return 0, 0, fmt.Errorf("%d values for shape %v, want %d", len(got), gotShape, len(want.Data))
	}
	scale := 0.0
	for i, w := range want.Data {
		g := got[i]
		switch {
		case math.IsNaN(w) || math.IsInf(w, 0):
			if !(math.IsNaN(w) && math.IsNaN(g)) && g != w {
				return 0, 0, fmt.Errorf("element %d is %v, want %v", i, g, w)
			}
			continue
		case math.IsNaN(g) || math.IsInf(g, 0):
			return 0, 0, fmt.Errorf("element %d is %v, want %v", i, g, w)
		}
		maxAbs = math.Max(maxAbs, math.Abs(g-w))
		scale = math.Max(scale, math.Abs(w))
	}
	scale = math.Max(scale, floor)
	switch {
	case maxAbs == 0:
		return 0, 0, nil
	case scale == 0:
		return maxAbs, math.Inf(1), nil
	}
	return maxAbs, maxAbs / scale, nil
}
