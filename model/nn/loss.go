package nn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// CrossEntropy returns the mean cross-entropy [1] of logits [..., V]
// against I32 labels with one entry per row, rows labelled ignoreIndex not
// counting (torch's ignore_index, -100 in transformers). With no counted row
// the loss is NaN, as torch gives.
func (g *Graph) CrossEntropy(logits *Value, labels backend.Tensor, ignoreIndex int32) *Value {
	const op = "cross_entropy"
	if !g.ok(op, logits) {
		return nil
	}
	if labels == nil {
		return g.Fail(op, errors.New("nil labels"))
	}
	n, v := logits.rows(), logits.last()
	l2, err := g.B.View(logits.T, n, v)
	if err != nil {
		return g.Fail(op, fmt.Errorf("logits %v: %w", logits.Shape(), err))
	}
	lab := labels
	if len(labels.Shape()) != 1 {
		if lab, err = g.B.View(labels, labels.Len()); err != nil {
			return g.Fail(op, fmt.Errorf("labels %v: %w", labels.Shape(), err))
		}
	}
	loss, dlogits, err := g.B.CrossEntropy(l2, lab, ignoreIndex)
	if err != nil {
		return g.Fail(op, fmt.Errorf("logits %v, labels %v: %w", logits.Shape(), labels.Shape(), err))
	}
	// The backend computes d(loss)/d(logits) with the loss: keep it only
	// when logits need a gradient.
	if g.grad && logits.NeedsGrad() {
		g.Own(dlogits)
	} else {
		g.free(dlogits)
		dlogits = nil
	}
	return g.result(loss, func(out *Value) error {
		// dlogits · dloss, broadcasting the [1] gradient over [N·V, 1].
		d, err := g.scaleByScalar(dlogits, out.Grad)
		if err != nil {
			return fmt.Errorf("%s logits %v: %w", op, logits.Shape(), err)
		}
		return g.accumulateAs(logits, d)
	}, logits)
}

// scaleByScalar returns t ⊙ s for a one-element device tensor s, without
// downloading s: t is viewed as [len, 1] so that s broadcasts as a suffix.
func (g *Graph) scaleByScalar(t, s backend.Tensor) (backend.Tensor, error) {
	col, err := g.B.View(t, t.Len(), 1)
	if err != nil {
		return nil, err
	}
	one, err := g.B.View(s, 1)
	if err != nil {
		return nil, err
	}
	return g.B.Mul(col, one)
}

// MSE returns the mean squared error [1] between pred and target of one
// shape (torch's MSELoss with mean reduction).
func (g *Graph) MSE(pred, target *Value) *Value {
	const op = "mse"
	if !g.ok(op, pred, target) {
		return nil
	}
	if !slices.Equal(pred.Shape(), target.Shape()) {
		return g.Fail(op, fmt.Errorf("pred %v and target %v differ in shape", pred.Shape(), target.Shape()))
	}
	diff, err := g.B.Sub(pred.T, target.T)
	if err != nil {
		return g.Fail(op, fmt.Errorf("pred %v: %w", pred.Shape(), err))
	}
	g.Own(diff)
	ss, err := g.B.SumSquares(diff)
	if err != nil {
		return g.Fail(op, fmt.Errorf("pred %v: %w", pred.Shape(), err))
	}
	inv := 1 / float32(diff.Len())
	loss, err := g.B.Affine(ss, inv, 0)
	g.free(ss)
	if err != nil {
		return g.Fail(op, fmt.Errorf("pred %v: %w", pred.Shape(), err))
	}
	return g.result(loss, func(out *Value) error {
		// d/dpred mean((p−t)²) = 2(p−t)/n; the target's is its negation.
		m, err := g.scaleByScalar(diff, out.Grad)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		dp, err := g.B.Affine(m, 2*inv, 0)
		g.free(m)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if target.NeedsGrad() {
			dt, err := g.B.Affine(dp, -1, 0)
			if err != nil {
				g.free(dp)
				return fmt.Errorf("%s: %w", op, err)
			}
			if err := g.accumulateAs(target, dt); err != nil {
				g.free(dp)
				return err
			}
		}
		return g.accumulateAs(pred, dp)
	}, pred, target)
}
