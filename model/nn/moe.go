package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// TopK returns the indices of the k largest entries of each row of x
// [N, E] as an I32 tensor [N, k] the graph owns (backend.Backend.TopK:
// ties to the lower index). It has no gradient: a router's choice.
func (g *Graph) TopK(x *Value, k int) backend.Tensor {
	const op = "top_k"
	if !g.ok(op, x) {
		return nil
	}
	ids, err := g.B.TopK(x.T, k)
	if err != nil {
		g.Fail(op, fmt.Errorf("x %v, k %d: %w", x.Shape(), k, err))
		return nil
	}
	return g.Own(ids)
}

// ExpertLinear runs each slot (n, j) of ids [N, k] through layer
// ls[ids[n, j]], with the layer's bias and (IA)³ vectors, the ids never
// leaving the device:
//
//	y[n, j] = ((x[n(, j)] ⊙ t_id) · W_idᵀ + b_id) ⊙ s_id,   id = ids[n, j]
//
// x is [N, in] (shared by a token's k slots) or [N, k, in]; the result is
// [N, k, out]. The layers' weights must be frozen (their backward is the
// input's only: backend.Backend.ExpertLinear); biases and the adapters'
// vectors are stacked [E, n] and gathered per slot, so that each slot's
// gradient adds into the vector of its own expert. A layer without a
// vector stands in a constant one of ones. Adapters that stack vectors of
// several adapters (a mixed batch, Scaling.Index) are refused: run those
// layers one by one.
func (g *Graph) ExpertLinear(x *Value, ls []*Linear, ids backend.Tensor) *Value {
	const op = "expert linear"
	if !g.ok(op, x) {
		return nil
	}
	if len(ls) == 0 || ids == nil || len(ids.Shape()) != 2 {
		return g.Fail(op, fmt.Errorf("%d layers, ids %v: want layers and ids [N, k]", len(ls), shapeOf(ids)))
	}
	n, k := ids.Shape()[0], ids.Shape()[1]
	ws := make([]backend.Tensor, len(ls))
	ins, outs, biases := make([]*Value, len(ls)), make([]*Value, len(ls)), make([]*Value, len(ls))
	for e, l := range ls {
		if l == nil || l.Weight == nil {
			return g.Fail(op, fmt.Errorf("expert %d has no weight", e))
		}
		if l.FanInFanOut {
			return g.Fail(op, fmt.Errorf("%s: an (in, out) weight is not supported", l.Weight.Name))
		}
		w := g.Param(l.Weight)
		if g.err != nil {
			return nil
		}
		if w.NeedsGrad() {
			return g.Fail(op, fmt.Errorf("%s is trainable: expert weights must be frozen here", l.Weight.Name))
		}
		ws[e] = w.T
		if l.Bias != nil {
			biases[e] = g.Param(l.Bias)
		}
		if l.Adapter != nil {
			sc, err := l.Adapter.Scaling(g, n*k)
			if err != nil {
				return g.Fail(op, fmt.Errorf("%s: adapter scaling: %w", l.Weight.Name, err))
			}
			if g.err != nil {
				return nil
			}
			if sc.Index != nil {
				return g.Fail(op, fmt.Errorf("%s: an adapter that stacks per-row vectors (a mixed batch) is not supported", l.Weight.Name))
			}
			ins[e], outs[e] = sc.In, sc.Out
		}
	}
	flat, err := g.B.View(ids, n*k)
	if err != nil {
		return g.Fail(op, fmt.Errorf("ids %v: %w", ids.Shape(), err))
	}
	shape := ws[0].Shape() // [out, in]
	xin := x
	if t := g.perSlot(op, "in scale", ins, 1, shape[1], flat); t != nil {
		if len(x.Shape()) == 2 {
			// Each slot needs its own row to scale: repeat token n's row k
			// times (ids that depend only on N and k).
			rep := make([]int32, n*k)
			for s := range rep {
				rep[s] = int32(s / k)
			}
			ri, err := g.B.FromInt32(rep, n*k)
			if err != nil {
				return g.Fail(op, err)
			}
			xin = g.Gather(xin, g.Own(ri))
		}
		xin = g.Mul(g.Reshape(xin, n*k, shape[1]), t)
		xin = g.Reshape(xin, n, k, shape[1])
	}
	y := g.expertProduct(op, xin, ws, ids)
	if b := g.perSlot(op, "bias", biases, 0, shape[0], flat); b != nil {
		y = g.Reshape(g.Add(g.Reshape(y, n*k, shape[0]), b), n, k, shape[0])
	}
	if s := g.perSlot(op, "out scale", outs, 1, shape[0], flat); s != nil {
		y = g.Reshape(g.Mul(g.Reshape(y, n*k, shape[0]), s), n, k, shape[0])
	}
	return y
}

// perSlot stacks one vector [dim] per expert into [E, dim] (missing ones
// filled with the constant fill) and gathers row ids[s] for every slot s,
// giving [N·k, dim]; nil when no expert has a vector. The Concat and
// Gather carry each slot's gradient back to its expert's vector.
func (g *Graph) perSlot(op, what string, vs []*Value, fill float32, dim int, flat backend.Tensor) *Value {
	var filler *Value
	rows := make([]*Value, len(vs))
	some := false
	for e, v := range vs {
		if v == nil {
			continue
		}
		some = true
		if v.T.Len() != dim {
			return g.Fail(op, fmt.Errorf("expert %d: %s %v, want [%d]", e, what, v.Shape(), dim))
		}
		rows[e] = g.Reshape(v, 1, dim)
	}
	if !some || g.err != nil {
		return nil
	}
	for e := range rows {
		if rows[e] != nil {
			continue
		}
		if filler == nil {
			c := make([]float32, dim)
			for i := range c {
				c[i] = fill
			}
			t, err := g.B.FromFloat32(c, 1, dim)
			if err != nil {
				return g.Fail(op, err)
			}
			filler = g.Input(t)
		}
		rows[e] = filler
	}
	table := rows[0]
	if len(rows) > 1 {
		table = g.Concat(0, rows...)
	}
	return g.Gather(table, flat)
}

// expertProduct is backend.ExpertLinear as a graph op: y [N, k, out] from
// x [N, in] or [N, k, in], its backward dx = dy · W_id per slot, summed
// over a token's slots when x is shared.
func (g *Graph) expertProduct(op string, x *Value, ws []backend.Tensor, ids backend.Tensor) *Value {
	if !g.ok(op, x) {
		return nil
	}
	y, err := g.B.ExpertLinear(x.T, ws, ids, backend.ExpertOptions{})
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v, %d experts %v, ids %v: %w", x.Shape(), len(ws), ws[0].Shape(), ids.Shape(), err))
	}
	back := func(out *Value) error {
		dx, err := g.B.ExpertLinear(out.Grad, ws, ids, backend.ExpertOptions{Backward: true})
		if err != nil {
			return fmt.Errorf("%s backward: %w", op, err)
		}
		xs := x.Shape()
		if len(xs) == 3 {
			return g.accumulate(x, dx)
		}
		// A shared row's gradient is the sum over its k slots:
		// ones [N, 1, k] · dx [N, k, in].
		n, k := ids.Shape()[0], ids.Shape()[1]
		defer g.free(dx)
		c := make([]float32, n*k)
		for i := range c {
			c[i] = 1
		}
		ones, err := g.B.FromFloat32(c, n, 1, k)
		if err != nil {
			return fmt.Errorf("%s backward: %w", op, err)
		}
		defer g.free(ones)
		sum, err := g.B.MatMul(ones, dx, backend.MatMulOptions{})
		if err != nil {
			return fmt.Errorf("%s backward: summing slots: %w", op, err)
		}
		return g.accumulateAs(x, sum)
	}
	return g.result(y, back, x)
}

// shapeOf is t's shape, nil for a nil tensor.
func shapeOf(t backend.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape()
}
