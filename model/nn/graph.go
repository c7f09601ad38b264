package nn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Value is a tensor in a Graph, with its gradient once Backward has run.
type Value struct {
	T backend.Tensor
	// Grad is d(loss)/d(T) for a parameter's value after Backward; nil when
	// not needed or not reached. Backward frees an intermediate value's
	// gradient once it has propagated it, leaving Grad nil.
	Grad backend.Tensor

	needsGrad bool
	param     *Param
	// gradSlot is the 1-based index in the graph's owned list of Grad's
	// storage when v alone uses it, so Backward may free it early; 0 when
	// the storage is shared with another value's gradient.
	gradSlot int
	// backward propagates v.Grad into the gradients of v's inputs.
	backward func() error
}

// NeedsGrad reports whether gradients flow back through v.
func (v *Value) NeedsGrad() bool { return v != nil && v.needsGrad }

// Shape returns the value's shape (nil for a nil value).
func (v *Value) Shape() []int {
	if v == nil || v.T == nil {
		return nil
	}
	return v.T.Shape()
}

// tensor returns v's tensor, or nil for a nil value (an absent bias).
func (v *Value) tensor() backend.Tensor {
	if v == nil {
		return nil
	}
	return v.T
}

// rows returns the product of v's leading dimensions: the number of
// vectors an op over the last axis sees.
func (v *Value) rows() int {
	s := v.T.Shape()
	if len(s) == 0 || s[len(s)-1] == 0 {
		return 1
	}
	return v.T.Len() / s[len(s)-1]
}

// last returns v's last dimension (1 for a scalar).
func (v *Value) last() int {
	s := v.T.Shape()
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}

// Graph runs operations on a backend and, when built with gradients,
// records them for Backward. Errors are sticky: after the first failure
// every operation returns nil and Err reports the failure, so model code
// reads as straight-line maths and checks once.
type Graph struct {
	B backend.Backend
	// Adapters, when non-nil, names the adapter of each batch sample ("" for
	// none): a batch that mixes adapters. Nil means the active adapters.
	Adapters []string

	grad      bool
	err       error
	tape      []*Value
	owned     []backend.Tensor
	paramVals map[*Param]*Value
	cur       *Value // the value whose backward rule is running
	// backwardDone is set once Backward has run: it frees intermediate
	// gradients, so a second pass would be wrong.
	backwardDone bool
}

// NewGraph starts a graph on b; grad says whether to record for Backward.
func NewGraph(b backend.Backend, grad bool) *Graph {
	return &Graph{B: b, grad: grad, paramVals: map[*Param]*Value{}}
}

// Grad reports whether the graph records gradients.
func (g *Graph) Grad() bool { return g.grad }

// Err returns the first error any operation met.
func (g *Graph) Err() error { return g.err }

// Fail records err (wrapped with op) unless an error is already recorded,
// and returns nil so callers can `return g.Fail(...)`.
func (g *Graph) Fail(op string, err error) *Value {
	if err != nil && g.err == nil {
		g.err = fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ok reports whether the graph can go on, failing on nil inputs.
func (g *Graph) ok(op string, vs ...*Value) bool {
	if g.err != nil {
		return false
	}
	for i, v := range vs {
		if v == nil || v.T == nil {
			g.Fail(op, fmt.Errorf("input %d is nil", i))
			return false
		}
	}
	return true
}

// Own registers t to be freed by Release.
func (g *Graph) Own(t backend.Tensor) backend.Tensor {
	if t != nil {
		g.owned = append(g.owned, t)
	}
	return t
}

// Constant wraps a tensor the graph does not own and never differentiates.
func (g *Graph) Constant(t backend.Tensor) *Value {
	if g.err != nil {
		return nil
	}
	return &Value{T: t}
}

// Input wraps a tensor the graph owns (freed by Release).
func (g *Graph) Input(t backend.Tensor) *Value {
	if g.err != nil {
		return nil
	}
	g.Own(t)
	return &Value{T: t}
}

// Param returns the value of a parameter; it needs a gradient when the
// graph records gradients and the parameter is trainable. Repeated calls
// return the same value, so gradients of shared parameters add up.
func (g *Graph) Param(p *Param) *Value {
	if g.err != nil {
		return nil
	}
	if p == nil {
		return g.Fail("param", errors.New("nil parameter"))
	}
	if p.T == nil {
		return g.Fail("param "+p.Name, errors.New("no tensor (not loaded?)"))
	}
	if v, ok := g.paramVals[p]; ok {
		return v
	}
	v := &Value{T: p.T, param: p, needsGrad: g.grad && p.Trainable}
	g.paramVals[p] = v
	return v
}

// ParamGrad returns the gradient Backward computed for p, or nil.
func (g *Graph) ParamGrad(p *Param) backend.Tensor {
	if v, ok := g.paramVals[p]; ok {
		return v.Grad
	}
	return nil
}

// result wraps an op's output tensor. backward is recorded only when the
// graph records gradients and some input needs one.
func (g *Graph) result(t backend.Tensor, backward func(out *Value) error, inputs ...*Value) *Value {
	g.Own(t)
	return g.record(t, backward, inputs...)
}

// record is result for a tensor the graph must not own: a view of another
// value's storage.
func (g *Graph) record(t backend.Tensor, backward func(out *Value) error, inputs ...*Value) *Value {
	out := &Value{T: t}
	if !g.grad || backward == nil {
		return out
	}
	for _, in := range inputs {
		if in.NeedsGrad() {
			out.needsGrad = true
			break
		}
	}
	if out.needsGrad {
		out.backward = func() error { return backward(out) }
		g.tape = append(g.tape, out)
	}
	return out
}

// Gradient storage. Backward rules hand gradients to their inputs in two
// ways: accumulate gives away a fresh tensor, share passes on one the graph
// already owns (the upstream gradient itself, or a view of it). Gradients
// are never updated in place, so aliasing is safe; it only decides what
// Backward may free early. A value whose gradient storage is its own
// (gradSlot > 0) has that storage freed as soon as its backward rule has
// run or a sum replaces it, so a backward pass holds few gradients at once.

// accumulate adds d into v.Grad, taking ownership of d.
func (g *Graph) accumulate(v *Value, d backend.Tensor) error {
	if !v.NeedsGrad() {
		g.B.Free(d)
		return nil
	}
	return g.setGrad(v, d, g.ownSlot(d))
}

// accumulateAs is accumulate for a d with v's element count but perhaps
// another shape (a flat reduction): d is owned and viewed as v's shape.
func (g *Graph) accumulateAs(v *Value, d backend.Tensor) error {
	if !v.NeedsGrad() {
		g.B.Free(d)
		return nil
	}
	slot := g.ownSlot(d)
	view, err := g.viewAs(d, v)
	if err != nil {
		return err
	}
	return g.setGrad(v, view, slot)
}

// share adds d, a tensor the graph already owns (the upstream gradient or a
// view of it), into v.Grad without taking ownership again.
func (g *Graph) share(v *Value, d backend.Tensor) error {
	if !v.NeedsGrad() {
		return nil
	}
	if g.cur != nil {
		g.cur.gradSlot = 0 // the running rule's gradient now has two users
	}
	return g.setGrad(v, d, 0)
}

// shareAs is share for a graph-owned d with v's element count, viewed as
// v's shape when it differs.
func (g *Graph) shareAs(v *Value, d backend.Tensor) error {
	if !v.NeedsGrad() {
		return nil
	}
	view, err := g.viewAs(d, v)
	if err != nil {
		return err
	}
	return g.share(v, view)
}

// viewAs returns d viewed with v's shape (d itself when it already has it).
func (g *Graph) viewAs(d backend.Tensor, v *Value) (backend.Tensor, error) {
	if slices.Equal(d.Shape(), v.Shape()) {
		return d, nil
	}
	return g.B.View(d, v.Shape()...)
}

// setGrad makes d (stored in owned slot, 0 for shared storage) v's
// gradient, or adds it to the gradient v has.
func (g *Graph) setGrad(v *Value, d backend.Tensor, slot int) error {
	if v.Grad == nil {
		v.Grad, v.gradSlot = d, slot
		return nil
	}
	sum, err := g.B.Add(v.Grad, d)
	if err != nil {
		return err
	}
	g.dropGrad(v)
	if slot > 0 {
		g.freeSlot(slot)
	}
	v.Grad, v.gradSlot = sum, g.ownSlot(sum)
	return nil
}

// ownSlot owns t and returns its 1-based slot in g.owned.
func (g *Graph) ownSlot(t backend.Tensor) int {
	g.owned = append(g.owned, t)
	return len(g.owned)
}

// freeSlot frees the tensor in an owned slot now, so Release skips it.
func (g *Graph) freeSlot(slot int) {
	if t := g.owned[slot-1]; t != nil {
		g.B.Free(t)
		g.owned[slot-1] = nil
	}
}

// dropGrad forgets v's gradient, freeing its storage when v alone uses it.
func (g *Graph) dropGrad(v *Value) {
	if v.gradSlot > 0 {
		g.freeSlot(v.gradSlot)
	}
	v.Grad, v.gradSlot = nil, 0
}

// free releases temporaries a backward rule created; nil entries are
// skipped.
func (g *Graph) free(ts ...backend.Tensor) {
	for _, t := range ts {
		if t != nil {
			g.B.Free(t)
		}
	}
}

// Backward computes gradients of a scalar loss for every trainable
// parameter reached, in reverse order of recording.
func (g *Graph) Backward(loss *Value) error {
	if g.err != nil {
		return g.err
	}
	if !g.grad {
		return errors.New("backward: graph was built without gradients")
	}
	if g.backwardDone {
		return errors.New("backward: already ran on this graph (intermediate gradients are freed); build a new graph per step")
	}
	if loss == nil {
		return errors.New("backward: nil loss")
	}
	if !loss.NeedsGrad() {
		return errors.New("backward: loss does not depend on any trainable parameter")
	}
	if loss.T.Len() != 1 {
		return fmt.Errorf("backward: loss must have one element, has shape %v", loss.T.Shape())
	}
	if loss.Grad == nil {
		one, err := g.B.FromFloat32([]float32{1}, loss.T.Shape()...)
		if err != nil {
			return fmt.Errorf("backward: %w", err)
		}
		loss.Grad = g.Own(one)
	}
	g.backwardDone = true
	for i := len(g.tape) - 1; i >= 0; i-- {
		v := g.tape[i]
		if v.Grad == nil {
			continue
		}
		g.cur = v
		err := v.backward()
		g.cur = nil
		if err != nil {
			g.err = fmt.Errorf("backward: %w", err)
			return g.err
		}
		g.dropGrad(v)
	}
	return nil
}

// Release frees every tensor the graph owns (activations, gradients). Param
// storage is never freed here. A parameter's gradient is freed too: copy it
// first if it must outlive the graph.
func (g *Graph) Release() {
	for _, t := range g.owned {
		g.free(t)
	}
	g.owned = nil
	g.tape = nil
	g.backwardDone = false
	g.paramVals = map[*Param]*Value{}
}
