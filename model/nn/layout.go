package nn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// normDim resolves a negative dimension (counted from the end) for a
// tensor of the given rank.
func normDim(dim, rank int) (int, error) {
	if dim < 0 {
		dim += rank
	}
	if dim < 0 || dim >= rank {
		return 0, fmt.Errorf("dimension %d out of range for rank %d", dim, rank)
	}
	return dim, nil
}

// Permute reorders x's dimensions (up to 4): out.Shape[i] = x.Shape[perm[i]].
func (g *Graph) Permute(x *Value, perm ...int) *Value {
	op := fmt.Sprintf("permute %v", perm)
	if !g.ok(op, x) {
		return nil
	}
	y, err := g.B.Permute(x.T, perm...)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i // valid: the backend accepted perm as a permutation
	}
	return g.result(y, func(out *Value) error {
		// A permutation's gradient is the inverse permutation of dy.
		dx, err := g.B.Permute(out.Grad, inv...)
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// Reshape views x with another shape of the same element count; one
// dimension may be -1 and is inferred. The result shares x's storage.
func (g *Graph) Reshape(x *Value, shape ...int) *Value {
	op := fmt.Sprintf("reshape %v", shape)
	if !g.ok(op, x) {
		return nil
	}
	shape, err := inferShape(shape, x.T.Len())
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	y, err := g.B.View(x.T, shape...)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.record(y, func(out *Value) error {
		// dx is dy viewed with x's shape.
		if err := g.shareAs(x, out.Grad); err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return nil
	}, x)
}

// inferShape replaces one -1 in shape by what makes n elements.
func inferShape(shape []int, n int) ([]int, error) {
	at, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && at < 0:
			at = i
		case d == -1:
			return nil, errors.New("more than one -1 dimension")
		case d <= 0:
			return nil, fmt.Errorf("dimension %d is not positive", d)
		default:
			known *= d
		}
	}
	if at < 0 {
		return shape, nil
	}
	if n%known != 0 {
		return nil, fmt.Errorf("cannot infer -1: %d elements do not divide by %d", n, known)
	}
	out := slices.Clone(shape)
	out[at] = n / known
	return out, nil
}

// Narrow copies x[..., start:start+length, ...] along dim (negative counts
// from the end).
func (g *Graph) Narrow(x *Value, dim, start, length int) *Value {
	op := fmt.Sprintf("narrow dim %d [%d:%d]", dim, start, start+length)
	if !g.ok(op, x) {
		return nil
	}
	dim, err := normDim(dim, len(x.Shape()))
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	y, err := g.B.Narrow(x.T, dim, start, length)
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// dx is zero outside the slice and dy inside it.
		dx, err := g.B.Zeros(x.Shape()...)
		if err == nil {
			if err = g.B.NarrowAssign(dx, dim, start, out.Grad); err != nil {
				g.free(dx)
			}
		}
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
}

// Concat joins xs along dim (negative counts from the end).
func (g *Graph) Concat(dim int, xs ...*Value) *Value {
	op := fmt.Sprintf("concat dim %d", dim)
	if !g.ok(op, xs...) {
		return nil
	}
	if len(xs) == 0 {
		return g.Fail(op, errors.New("no inputs"))
	}
	dim, err := normDim(dim, len(xs[0].Shape()))
	if err != nil {
		return g.Fail(op, fmt.Errorf("x0 %v: %w", xs[0].Shape(), err))
	}
	ts := make([]backend.Tensor, len(xs))
	shapes := make([][]int, len(xs))
	for i, x := range xs {
		ts[i], shapes[i] = x.T, x.Shape()
	}
	y, err := g.B.Concat(dim, ts...)
	if err != nil {
		return g.Fail(op, fmt.Errorf("inputs %v: %w", shapes, err))
	}
	return g.result(y, func(out *Value) error {
		// Each input's gradient is its slice of dy.
		start := 0
		for _, x := range xs {
			n := x.Shape()[dim]
			if x.NeedsGrad() {
				dx, err := g.B.Narrow(out.Grad, dim, start, n)
				if err != nil {
					return fmt.Errorf("%s inputs %v: %w", op, shapes, err)
				}
				if err := g.accumulate(x, dx); err != nil {
					return err
				}
			}
			start += n
		}
		return nil
	}, xs...)
}
