package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// Softmax normalises attention scores [B, H, Tq, Tk] over the last axis
// after scaling, biasing and masking as o says.
func (g *Graph) Softmax(x *Value, o backend.SoftmaxOptions) *Value {
	const op = "softmax"
	if !g.ok(op, x) {
		return nil
	}
	y, err := g.B.Softmax(x.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("scores %v: %w", x.Shape(), err))
	}
	scale := o.Scale
	if scale == 0 {
		scale = 1
	}
	return g.result(y, func(out *Value) error {
		// With p = softmax(s·x): dx = s · p ⊙ (dy − Σ dy⊙p), 0 where masked.
		dx, err := g.B.SoftmaxBackward(out.T, out.Grad, scale)
		if err != nil {
			return fmt.Errorf("%s scores %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// Rope rotates x [B, H, T, D] by the rotary position embedding of the
// given inverse frequencies [R/2] and I32 positions [T] or [B, T].
func (g *Graph) Rope(x *Value, invFreq, positions backend.Tensor) *Value {
	const op = "rope"
	if !g.ok(op, x) {
		return nil
	}
	o := backend.RopeOptions{InvFreq: invFreq, Positions: positions}
	y, err := g.B.Rope(x.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// A rotation's transpose is the rotation by the negative angle.
		inv := o
		inv.Inverse = true
		dx, err := g.B.Rope(out.Grad, inv)
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// RepeatKV repeats each key/value head of x [B, Hkv, T, D] n times for
// grouped-query attention; n == 1 returns x itself.
func (g *Graph) RepeatKV(x *Value, n int) *Value {
	const op = "repeat_kv"
	if !g.ok(op, x) {
		return nil
	}
	if n == 1 {
		return x
	}
	y, err := g.B.RepeatKV(x.T, n)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v, n %d: %w", x.Shape(), n, err))
	}
	return g.result(y, func(out *Value) error {
		// Each source head feeds n heads: its gradient is their sum.
		dx, err := g.B.SumKV(out.Grad, n)
		if err != nil {
			return fmt.Errorf("%s x %v, n %d: %w", op, x.Shape(), n, err)
		}
		return g.accumulate(x, dx)
	}, x)
}
