package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// binary runs an element-wise op whose b equals a's shape or a suffix of it.
func (g *Graph) binary(op string, a, b *Value,
	f func(a, b backend.Tensor) (backend.Tensor, error),
	back func(dy backend.Tensor) error) *Value {
	if !g.ok(op, a, b) {
		return nil
	}
	y, err := f(a.T, b.T)
	if err != nil {
		return g.Fail(op, fmt.Errorf("a %v, b %v: %w", a.Shape(), b.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		if err := back(out.Grad); err != nil {
			return fmt.Errorf("%s a %v, b %v: %w", op, a.Shape(), b.Shape(), err)
		}
		return nil
	}, a, b)
}

// Add returns a + b; b has a's shape or a suffix of it (a bias, a position
// table), and its gradient is dy summed over the broadcast dimensions.
func (g *Graph) Add(a, b *Value) *Value {
	return g.binary("add", a, b, g.B.Add, func(dy backend.Tensor) error {
		// d(a+b)/da = d(a+b)/db = 1.
		if err := g.share(a, dy); err != nil {
			return err
		}
		return g.broadcastGrad(b, dy, false, false)
	})
}

// Sub returns a − b, broadcasting b as Add does.
func (g *Graph) Sub(a, b *Value) *Value {
	return g.binary("sub", a, b, g.B.Sub, func(dy backend.Tensor) error {
		// da = dy, db = −dy.
		if err := g.share(a, dy); err != nil {
			return err
		}
		return g.broadcastGrad(b, dy, true, false)
	})
}

// Mul returns a ⊙ b, broadcasting b as Add does.
func (g *Graph) Mul(a, b *Value) *Value {
	return g.binary("mul", a, b, g.B.Mul, func(dy backend.Tensor) error {
		// da = dy ⊙ b (b broadcast), db = Σbroadcast dy ⊙ a.
		if a.NeedsGrad() {
			da, err := g.B.Mul(dy, b.T)
			if err != nil {
				return err
			}
			if err := g.accumulate(a, da); err != nil {
				return err
			}
		}
		if b.NeedsGrad() {
			p, err := g.B.Mul(dy, a.T)
			if err != nil {
				return err
			}
			return g.broadcastGrad(b, p, false, true)
		}
		return nil
	})
}

// broadcastGrad adds d, shaped like the op's output, into b's gradient:
// summed over the leading dimensions b was broadcast along, negated when
// neg is set. fresh says d is a temporary the caller hands over; otherwise d
// is graph-owned (the upstream gradient) and is shared, never freed.
func (g *Graph) broadcastGrad(b *Value, d backend.Tensor, neg, fresh bool) error {
	if !b.NeedsGrad() {
		if fresh {
			g.free(d)
		}
		return nil
	}
	if d.Len() != b.T.Len() {
		s, err := g.sumLeading(d, b.T.Len())
		if fresh {
			g.free(d)
		}
		if err != nil {
			return err
		}
		d, fresh = s, true
	}
	if neg {
		n, err := g.B.Affine(d, -1, 0)
		if fresh {
			g.free(d)
		}
		if err != nil {
			return err
		}
		d, fresh = n, true
	}
	if fresh {
		return g.accumulateAs(b, d)
	}
	return g.shareAs(b, d)
}

// sumLeading sums t, viewed as [t.Len()/n, n], over its rows, giving a new
// [n] tensor owned by the caller: the gradient of an operand broadcast along
// leading dimensions.
func (g *Graph) sumLeading(t backend.Tensor, n int) (backend.Tensor, error) {
	if n <= 0 || t.Len()%n != 0 {
		return nil, fmt.Errorf("cannot sum %v down to %d elements", t.Shape(), n)
	}
	v, err := g.B.View(t, t.Len()/n, n)
	if err != nil {
		return nil, err
	}
	return g.B.SumRows(v)
}

// Affine returns alpha·x + beta.
func (g *Graph) Affine(x *Value, alpha, beta float32) *Value {
	const op = "affine"
	if !g.ok(op, x) {
		return nil
	}
	y, err := g.B.Affine(x.T, alpha, beta)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// dx = alpha·dy.
		dx, err := g.B.Affine(out.Grad, alpha, 0)
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// Act applies the activation f element-wise.
func (g *Graph) Act(f backend.Unary, x *Value) *Value {
	op := "activation " + f.String()
	if !g.ok(op, x) {
		return nil
	}
	y, err := g.B.Activation(f, x.T)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// dx = dy ⊙ f'(x), recomputed from the kept input.
		dx, err := g.B.ActivationBackward(f, x.T, out.Grad)
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// SwiGLU returns silu(gate) ⊙ up, Llama's gated feed-forward.
func (g *Graph) SwiGLU(gate, up *Value) *Value {
	const op = "swiglu"
	if !g.ok(op, gate, up) {
		return nil
	}
	y, err := g.B.SwiGLU(gate.T, up.T)
	if err != nil {
		return g.Fail(op, fmt.Errorf("gate %v, up %v: %w", gate.Shape(), up.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// dgate = dy ⊙ up ⊙ silu'(gate), dup = dy ⊙ silu(gate).
		dg, du, err := g.B.SwiGLUBackward(gate.T, up.T, out.Grad)
		if err != nil {
			return fmt.Errorf("%s gate %v, up %v: %w", op, gate.Shape(), up.Shape(), err)
		}
		if err := g.accumulate(gate, dg); err != nil {
			g.free(du)
			return err
		}
		return g.accumulate(up, du)
	}, gate, up)
}
