package cpu

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
)

// CrossEntropy returns the mean negative log-likelihood of labels under
// softmax(logits) over the rows whose label is not ignoreIndex, and its
// gradient (softmax − one-hot)/count, zero on ignored rows.
func (b *Backend) CrossEntropy(logitsT, labelsT backend.Tensor, ignoreIndex int32) (backend.Tensor, backend.Tensor, error) {
	const op = "cross_entropy"
	logits, err := b.tensorOf(op, "logits", logitsT)
	if err != nil {
		return nil, nil, err
	}
	labels, err := b.tensorOf(op, "labels", labelsT)
	if err != nil {
		return nil, nil, err
	}
	n, v := logits.shape[0], logits.shape[1]
	count := 0
	for r, y := range labels.i {
		if y == ignoreIndex {
			continue
		}
		if y < 0 || int(y) >= v {
			return nil, nil, fmt.Errorf("%s: label %d of row %d out of range [0, %d) (ignore index %d)", op, y, r, v, ignoreIndex)
		}
		count++
	}
	grad := b.newF32(n, v)
	if count == 0 {
		return b.wrapF32([]float32{float32(math.NaN())}, 1), grad, nil
	}
	losses := make([]float64, n)
	b.parallelFor(n, v, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			y := labels.i[r]
			if y == ignoreIndex {
				continue
			}
			row, dst := logits.f[r*v:(r+1)*v], grad.f[r*v:(r+1)*v]
			// One exponential per logit: dst holds exp(x − max) until the
			// row's sum is known, then the gradient softmax/count.
			mx := maxOf(row)
			sum := expShifted(dst, row, mx)
			losses[r] = float64(mx) + math.Log(sum) - float64(row[y])
			scaleInto(dst, dst, float32(1/(sum*float64(count))))
			dst[y] -= float32(1 / float64(count))
		}
	})
	var total float64
	for _, l := range losses {
		total += l
	}
	return b.wrapF32([]float32{float32(total / float64(count))}, 1), grad, nil
}

// SumRows sums x [..., C] over its leading dimensions into [C].
func (b *Backend) SumRows(xt backend.Tensor) (backend.Tensor, error) {
	x, err := b.tensorOf("sum_rows", "x", xt)
	if err != nil {
		return nil, err
	}
	c := x.shape[len(x.shape)-1]
	rows := len(x.f) / c
	out := b.newF32(c)
	b.parallelFor(c, rows, func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for r := range rows {
			for j, v := range x.f[r*c+lo : r*c+hi] {
				acc[j] += float64(v)
			}
		}
		for j, s := range acc {
			out.f[lo+j] = float32(s)
		}
	})
	return out, nil
}

// MulSumRows returns Σrows a ⊙ b as [C]: each product rounded to float32
// as Mul rounds it, the sums accumulated in float64 as SumRows does, so the
// result equals the two operations bit for bit.
func (b *Backend) MulSumRows(at, bt backend.Tensor) (backend.Tensor, error) {
	const op = "mul_sum_rows"
	a, err := b.tensorOf(op, "a", at)
	if err != nil {
		return nil, err
	}
	x, err := b.tensorOf(op, "b", bt)
	if err != nil {
		return nil, err
	}
	c := a.shape[len(a.shape)-1]
	out := b.newF32(c)
	if c == 0 {
		return out, nil
	}
	rows := len(a.f) / c
	b.parallelFor(c, 2*rows, func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for r := range rows {
			xr := x.f[r*c+lo : r*c+hi]
			for j, v := range a.f[r*c+lo : r*c+hi] {
				acc[j] += float64(float32(v * xr[j])) // rounded as Mul rounds it
			}
		}
		for j, s := range acc {
			out.f[lo+j] = float32(s)
		}
	})
	return out, nil
}

// SumSquares returns Σx² as a [1] tensor, accumulated in float64.
func (b *Backend) SumSquares(xt backend.Tensor) (backend.Tensor, error) {
	x, err := b.tensorOf("sum_squares", "x", xt)
	if err != nil {
		return nil, err
	}
	var s float64
	for _, v := range x.f {
		s += float64(v) * float64(v)
	}
	return b.wrapF32([]float32{float32(s)}, 1), nil
}
