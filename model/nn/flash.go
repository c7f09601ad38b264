package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// Attention is fused scaled-dot-product attention for q [B, H, Tq, D] and
// k, v [B, Hkv, Tk, D], giving [B, Tq, H·D] (backend.Backend.Attention).
// Unlike MatMul, Softmax and MatMul composed, it keeps no [B, H, Tq, Tk]
// probabilities for the backward: only the output it returns anyway and
// one log-sum-exp per row, from which AttentionBackward recomputes them.
// o.Bias gets no gradient.
func (g *Graph) Attention(q, k, v *Value, o backend.AttentionOptions) *Value {
	const op = "attention"
	if !g.ok(op, q, k, v) {
		return nil
	}
	y, lse, err := g.B.Attention(q.T, k.T, v.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("q %v, k %v, v %v: %w", q.Shape(), k.Shape(), v.Shape(), err))
	}
	if !g.grad || !(q.NeedsGrad() || k.NeedsGrad() || v.NeedsGrad()) {
		g.B.Free(lse)
		return g.result(y, nil)
	}
	g.Own(lse)
	return g.result(y, func(out *Value) error {
		dq, dk, dv, err := g.B.AttentionBackward(q.T, k.T, v.T, out.T, lse, out.Grad, o)
		if err != nil {
			return fmt.Errorf("%s q %v, k %v: %w", op, q.Shape(), k.Shape(), err)
		}
		if err := g.accumulate(q, dq); err != nil {
			g.free(dk, dv)
			return err
		}
		if err := g.accumulate(k, dk); err != nil {
			g.free(dv)
			return err
		}
		return g.accumulate(v, dv)
	}, q, k, v)
}
