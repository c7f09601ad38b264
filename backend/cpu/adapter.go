package cpu

import (
	"math"

	"github.com/ia3/ia3/backend"
)

// unmergeEps is what PEFT adds to a vector before dividing a weight by it.
const unmergeEps float32 = 1e-8

// ScaleRows returns w [R, C] with row r multiplied by v[r], or divided by
// v[r] + 1e-8 when invert is set, as PEFT's merge and unmerge do in float32.
func (b *Backend) ScaleRows(wt, vt backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.scaleMatrix("scale_rows", wt, vt, invert, true)
}

// ScaleCols is ScaleRows along columns: v has one entry per column.
func (b *Backend) ScaleCols(wt, vt backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.scaleMatrix("scale_cols", wt, vt, invert, false)
}

func (b *Backend) scaleMatrix(op string, wt, vt backend.Tensor, invert, rows bool) (backend.Tensor, error) {
	w, err := b.tensorOf(op, "w", wt)
	if err != nil {
		return nil, err
	}
	v, err := b.tensorOf(op, "v", vt)
	if err != nil {
		return nil, err
	}
	r, c := w.shape[0], w.shape[1]
	out := b.newF32(r, c)
	src := w.floats()
	b.parallelFor(r, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, dst := src[i*c:(i+1)*c], out.f[i*c:(i+1)*c]
			for j, x := range row {
				var s float32
				if rows {
					s = v.f[i]
				} else {
					s = v.f[j]
				}
				if invert {
					dst[j] = x / (s + unmergeEps)
				} else {
					dst[j] = x * s
				}
			}
		}
	})
	return out, nil
}

// WeightedSum returns Σ weights[i]·xs[i], accumulated in order in float32
// as PEFT's add_weighted_adapter does.
func (b *Backend) WeightedSum(xs []backend.Tensor, weights []float32) (backend.Tensor, error) {
	var out *tensor
	for i, t := range xs {
		x, err := b.tensorOf("weighted_sum", "xs", t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out = b.newF32(x.shape...)
		}
		w := weights[i]
		for j, v := range x.f {
			out.f[j] += v * w
		}
	}
	return out, nil
}

// AllFinite reports whether no element of t is NaN or infinite.
func (b *Backend) AllFinite(t backend.Tensor) (bool, error) {
	x, err := b.tensorOf("all_finite", "t", t)
	if err != nil {
		return false, err
	}
	for _, v := range x.f {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false, nil
		}
	}
	return true, nil
}
