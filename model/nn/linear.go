package nn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Linear applies layer l to x [..., in], giving [..., out]:
//
//	y = ((x ⊙ t) · Wᵀ + b) ⊙ s
//
// with s and t the Out and In vectors l.Adapter supplies (either may be
// absent). Gradients reach x, s and t, and W and b only when they are
// trainable (modules_to_save heads), so a frozen layer costs one matmul
// (dx) in backward and never a weight-gradient matmul.
func (g *Graph) Linear(x *Value, l *Linear) *Value {
	op := "linear"
	if l != nil && l.Weight != nil {
		op = "linear " + l.Weight.Name
	}
	if !g.ok(op, x) {
		return nil
	}
	if l == nil || l.Weight == nil || l.Weight.T == nil {
		return g.Fail(op, errors.New("layer has no weight tensor"))
	}
	w := g.Param(l.Weight)
	var bias *Value
	if l.Bias != nil {
		bias = g.Param(l.Bias)
	}
	if g.err != nil { // a parameter without storage
		return nil
	}
	var sc Scaling
	if l.Adapter != nil {
		var err error
		if sc, err = l.Adapter.Scaling(g, x.rows()); err != nil {
			return g.Fail(op, fmt.Errorf("adapter scaling: %w", err))
		}
		if g.err != nil { // the adapter built its vectors on g and failed
			return nil
		}
	}
	s, t := sc.Out, sc.In
	needs := x.NeedsGrad() || w.NeedsGrad() || bias.NeedsGrad() || s.NeedsGrad() || t.NeedsGrad()
	if sc.Index != nil && needs {
		return g.mixedLinear(op, x, l, sc)
	}
	o := backend.LinearOptions{
		FanInFanOut: l.FanInFanOut,
		Bias:        bias.tensor(),
		OutScale:    s.tensor(),
		InScale:     t.tensor(),
		ScaleIndex:  sc.Index,
	}
	// ds = Σrows dy ⊙ z needs the pre-scale output z: keep it from the
	// forward (one extra element-wise multiply) rather than recompute a
	// matmul in backward.
	var z backend.Tensor
	if s.NeedsGrad() {
		o.OutScale = nil
	}
	y, err := g.B.Linear(x.T, w.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v, weight %v: %w", x.Shape(), w.Shape(), err))
	}
	if s.NeedsGrad() {
		z = g.Own(y)
		if y, err = g.B.Mul(z, s.T); err != nil {
			return g.Fail(op, fmt.Errorf("out scale %v: %w", s.Shape(), err))
		}
	}
	back := func(out *Value) error {
		if err := g.linearBackward(out.Grad, x, w, bias, s, t, z, l.FanInFanOut); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	}
	return g.result(y, back, x, w, bias, s, t)
}

// mixedLinear is Linear for a batch that mixes adapters when gradients
// are needed: each row's vectors are gathered from the stacked [A, n]
// scalings by sc.Index, so that the gather's backward adds every row's
// gradient into the vector of its own adapter and no other:
//
//	y = ((x ⊙ t[idx]) · Wᵀ + b) ⊙ s[idx]
//
// Every index entry must then name a stacked vector (no -1: the caller
// stacks a constant vector of ones for rows without an adapter).
func (g *Graph) mixedLinear(op string, x *Value, l *Linear, sc Scaling) *Value {
	rows := x.rows()
	perRow := func(v *Value, shape []int) *Value {
		if v == nil {
			return nil
		}
		if len(v.Shape()) != 2 {
			return g.Fail(op, fmt.Errorf("stacked scaling %v is not [adapters, n]", v.Shape()))
		}
		if sc.Index.Len() != rows {
			return g.Fail(op, fmt.Errorf("scale index has %d entries for %d rows", sc.Index.Len(), rows))
		}
		return g.Reshape(g.Gather(v, sc.Index), shape...)
	}
	plain := *l
	plain.Adapter = nil
	xin := x
	if t := perRow(sc.In, x.Shape()); t != nil {
		xin = g.Mul(x, t)
	}
	if g.err != nil {
		return nil
	}
	y := g.Linear(xin, &plain)
	if g.err != nil {
		return nil
	}
	if s := perRow(sc.Out, y.Shape()); s != nil {
		y = g.Mul(y, s)
	}
	return y
}

// linearBackward propagates dy through y = ((x ⊙ t)·Wᵀ + b) ⊙ s, z being
// the pre-scale output (x ⊙ t)·Wᵀ + b when s needs a gradient:
//
//	dz = dy ⊙ s            ds = Σrows dy ⊙ z
//	db = Σrows dz          dW = dzᵀ · (x ⊙ t)   (transposed for Conv1D)
//	dxt = dz · W           dx = dxt ⊙ t,   dt = Σrows x ⊙ dxt
func (g *Graph) linearBackward(dy backend.Tensor, x, w, bias, s, t *Value, z backend.Tensor, fanIn bool) error {
	b := g.B
	if s.NeedsGrad() {
		ds, err := g.mulSumRows(dy, z)
		if err != nil {
			return err
		}
		if err := g.accumulateAs(s, ds); err != nil {
			return err
		}
	}
	if !(x.NeedsGrad() || t.NeedsGrad() || w.NeedsGrad() || bias.NeedsGrad()) {
		return nil
	}
	dz := dy
	if s != nil {
		var err error
		if dz, err = b.Mul(dy, s.T); err != nil {
			return err
		}
		defer g.free(dz)
	}
	if bias.NeedsGrad() {
		db, err := b.SumRows(dz)
		if err != nil {
			return err
		}
		if err := g.accumulateAs(bias, db); err != nil {
			return err
		}
	}
	rows, nOut, nIn := x.rows(), dz.Len()/x.rows(), x.last()
	dz2, err := b.View(dz, rows, nOut)
	if err != nil {
		return err
	}
	if x.NeedsGrad() || t.NeedsGrad() {
		// W is (out, in) for Linear: dz·W; (in, out) for Conv1D: dz·Wᵀ.
		dxt2, err := b.MatMul(dz2, w.T, backend.MatMulOptions{TransB: fanIn})
		if err != nil {
			return err
		}
		dxt, err := b.View(dxt2, x.Shape()...)
		if err != nil {
			g.free(dxt2)
			return err
		}
		if err := g.scaledInputGrad(x, t, dxt2, dxt); err != nil {
			return err
		}
	}
	if w.NeedsGrad() {
		xt := x.T
		if t != nil {
			if xt, err = b.Mul(x.T, t.T); err != nil {
				return err
			}
			defer g.free(xt)
		}
		xt2, err := b.View(xt, rows, nIn)
		if err != nil {
			return err
		}
		// Linear: dW [out, in] = dzᵀ·x_t; Conv1D: dW [in, out] = x_tᵀ·dz.
		var dw backend.Tensor
		if fanIn {
			dw, err = b.MatMul(xt2, dz2, backend.MatMulOptions{TransA: true})
		} else {
			dw, err = b.MatMul(dz2, xt2, backend.MatMulOptions{TransA: true})
		}
		if err != nil {
			return err
		}
		if err := g.accumulate(w, dw); err != nil {
			return err
		}
	}
	return nil
}

// scaledInputGrad turns dxt = d(loss)/d(x ⊙ t) (storage dxt2, viewed as
// x's shape by dxt) into the gradients of x and t, taking ownership of
// dxt2.
func (g *Graph) scaledInputGrad(x, t *Value, dxt2, dxt backend.Tensor) error {
	b := g.B
	if t == nil {
		return g.accumulateAs(x, dxt2)
	}
	defer g.free(dxt2)
	if t.NeedsGrad() {
		dt, err := g.mulSumRows(dxt, x.T)
		if err != nil {
			return err
		}
		if err := g.accumulateAs(t, dt); err != nil {
			return err
		}
	}
	if x.NeedsGrad() {
		dx, err := b.Mul(dxt, t.T)
		if err != nil {
			return err
		}
		return g.accumulate(x, dx)
	}
	return nil
}

// MatMul returns op(a)·op(b) scaled by o.Alpha, op transposing where o
// says; b may be 2-D and shared by every batch of a.
func (g *Graph) MatMul(a, b *Value, o backend.MatMulOptions) *Value {
	const op = "matmul"
	if !g.ok(op, a, b) {
		return nil
	}
	y, err := g.B.MatMul(a.T, b.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("a %v, b %v: %w", a.Shape(), b.Shape(), err))
	}
	back := func(out *Value) error {
		if err := g.matmulBackward(out.Grad, a, b, o); err != nil {
			return fmt.Errorf("%s a %v, b %v: %w", op, a.Shape(), b.Shape(), err)
		}
		return nil
	}
	return g.result(y, back, a, b)
}

// matmulBackward propagates dY through Y = α·A·B with A = op(a), B = op(b):
//
//	dA = α·dY·Bᵀ    dB = α·Aᵀ·dY
//
// each transposed back when the operand is stored transposed, and dB summed
// over the batch when b is shared by every batch.
func (g *Graph) matmulBackward(dy backend.Tensor, a, b *Value, o backend.MatMulOptions) error {
	be := g.B
	if a.NeedsGrad() {
		// dA [..., M, K] = dY·Bᵀ keeps b (perhaps F16, perhaps 2-D) as the
		// second operand; a stored [K, M] takes the transpose of dA.
		da, err := be.MatMul(dy, b.T, backend.MatMulOptions{TransB: !o.TransB, Alpha: o.Alpha})
		if err != nil {
			return err
		}
		if o.TransA {
			t, err := g.transposeLast2(da)
			g.free(da)
			if err != nil {
				return err
			}
			da = t
		}
		if err := g.accumulate(a, da); err != nil {
			return err
		}
	}
	if b.NeedsGrad() {
		var db backend.Tensor
		var err error
		if o.TransB { // b stored [N, K]: dBᵀ = dYᵀ·A
			db, err = be.MatMul(dy, a.T, backend.MatMulOptions{TransA: true, TransB: o.TransA, Alpha: o.Alpha})
		} else { // b stored [K, N]: dB = Aᵀ·dY
			db, err = be.MatMul(a.T, dy, backend.MatMulOptions{TransA: !o.TransA, Alpha: o.Alpha})
		}
		if err != nil {
			return err
		}
		if db.Len() != b.T.Len() { // b 2-D shared by the batch: sum over it
			s, err := g.sumLeading(db, b.T.Len())
			g.free(db)
			if err != nil {
				return err
			}
			db = s
		}
		if err := g.accumulateAs(b, db); err != nil {
			return err
		}
	}
	return nil
}

// transposeLast2 swaps the last two dimensions of t (rank 2 to 4).
func (g *Graph) transposeLast2(t backend.Tensor) (backend.Tensor, error) {
	r := len(t.Shape())
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	if r >= 2 {
		perm[r-1], perm[r-2] = r-2, r-1
	}
	return g.B.Permute(t, perm...)
}

// mulSumRows returns Σrows a ⊙ b, the gradient of a scale vector, in one
// backend operation (backend.MulSumRows) that never writes the product. b
// of a's element count but another shape is viewed as a's; a b that only
// broadcasts takes Mul then SumRows.
func (g *Graph) mulSumRows(a, b backend.Tensor) (backend.Tensor, error) {
	if a.Len() != b.Len() {
		p, err := g.B.Mul(a, b)
		if err != nil {
			return nil, err
		}
		defer g.free(p)
		return g.B.SumRows(p)
	}
	if !slices.Equal(a.Shape(), b.Shape()) {
		v, err := g.B.View(b, a.Shape()...)
		if err != nil {
			return nil, err
		}
		b = v
	}
	return g.B.MulSumRows(a, b)
}
