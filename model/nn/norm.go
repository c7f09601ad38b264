package nn

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Norm normalises x over its last axis with module n: LayerNorm
// ((x − mean)/sqrt(var + eps) ⊙ weight + bias) or, when n.RMS is set, RMS
// norm (x/sqrt(mean(x²) + eps) ⊙ weight). Only x gets a gradient: IA3 never
// trains norm parameters, so a trainable one is an error.
func (g *Graph) Norm(x *Value, n *Norm) *Value {
	op := normOp(n)
	if !g.ok(op, x) {
		return nil
	}
	o, ok := g.normOptions(op, n)
	if !ok {
		return nil
	}
	var y backend.Tensor
	var err error
	if n.RMS {
		y, err = g.B.RMSNorm(x.T, o.Weight, n.Eps)
	} else {
		y, err = g.B.LayerNorm(x.T, o.Weight, o.Bias, n.Eps)
	}
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, g.normBackward(op, x, o), x)
}

// AddNorm returns sum = a + b and Norm(sum, n) in one backend operation
// (backend.AddNorm): a pre-norm block's residual add followed by the next
// norm, which reads the residual stream once instead of twice. sum carries
// Add's gradient and y Norm's, so the results and gradients are those of
// g.Add then g.Norm. A b that only broadcasts against a falls back to the
// two operations.
func (g *Graph) AddNorm(a, b *Value, n *Norm) (sum, y *Value) {
	op := "add+" + normOp(n)
	if !g.ok(op, a, b) {
		return nil, nil
	}
	if !slices.Equal(a.Shape(), b.Shape()) {
		sum = g.Add(a, b)
		return sum, g.Norm(sum, n)
	}
	o, ok := g.normOptions(op, n)
	if !ok {
		return nil, nil
	}
	st, yt, err := g.B.AddNorm(a.T, b.T, o)
	if err != nil {
		return g.Fail(op, fmt.Errorf("a %v, b %v: %w", a.Shape(), b.Shape(), err)), nil
	}
	sum = g.result(st, func(out *Value) error {
		// d(a+b)/da = d(a+b)/db = 1.
		if err := g.share(a, out.Grad); err != nil {
			return fmt.Errorf("%s a %v: %w", op, a.Shape(), err)
		}
		return g.share(b, out.Grad)
	}, a, b)
	return sum, g.result(yt, g.normBackward(op, sum, o), sum)
}

// normOp names a norm module for errors.
func normOp(n *Norm) string {
	switch {
	case n == nil:
		return "norm"
	case n.Weight != nil:
		return "norm " + n.Weight.Name
	}
	return "norm " + n.Class
}

// normOptions checks module n and returns the backend's view of it: the
// weight (plus n.WeightOffset, computed here), the bias and eps. It
// records the failure and returns false when the module cannot run.
func (g *Graph) normOptions(op string, n *Norm) (backend.NormOptions, bool) {
	if n == nil {
		g.Fail(op, fmt.Errorf("nil module"))
		return backend.NormOptions{}, false
	}
	for _, p := range []*Param{n.Weight, n.Bias} {
		if p == nil {
			continue
		}
		v := g.Param(p)
		if v == nil {
			return backend.NormOptions{}, false
		}
		if v.NeedsGrad() {
			g.Fail(op, fmt.Errorf("training norm parameter %s is not supported", p.Name))
			return backend.NormOptions{}, false
		}
	}
	o := backend.NormOptions{RMS: n.RMS, Eps: n.Eps}
	if n.Weight != nil {
		o.Weight = n.Weight.T
		if n.WeightOffset != 0 {
			var err error
			if o.Weight, err = g.offsetWeight(o.Weight, n.WeightOffset); err != nil {
				g.Fail(op, err)
				return backend.NormOptions{}, false
			}
		}
	}
	if n.Bias != nil {
		if n.RMS {
			g.Fail(op, fmt.Errorf("an RMS norm has no bias, got %s", n.Bias.Name))
			return backend.NormOptions{}, false
		}
		o.Bias = n.Bias.T
	}
	return o, true
}

// normBackward is the backward rule of a norm of x. The backend recomputes
// the row statistics from x:
//
//	LayerNorm: dx = (γ⊙dy − mean(γ⊙dy) − x̂·mean(γ⊙dy⊙x̂)) / σ
//	RMS norm:  dx = (γ⊙dy − x̂·mean(γ⊙dy⊙x̂)) / rms
//
// In a pre-norm block x is also the residual stream, whose gradient the
// later residual add has already handed to x by the time this rule runs
// (rules run in reverse order): then NormBackwardAdd adds dx to it in the
// same pass, where the plain backward and an Add would take two.
func (g *Graph) normBackward(op string, x *Value, o backend.NormOptions) func(out *Value) error {
	return func(out *Value) error {
		if x.NeedsGrad() && x.Grad != nil && slices.Equal(x.Grad.Shape(), x.Shape()) {
			d, err := g.B.NormBackwardAdd(x.T, out.Grad, x.Grad, o)
			if err != nil {
				return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
			}
			g.dropGrad(x)
			x.Grad, x.gradSlot = d, g.ownSlot(d)
			return nil
		}
		var dx backend.Tensor
		var err error
		if o.RMS {
			dx, err = g.B.RMSNormBackward(x.T, o.Weight, out.Grad, o.Eps)
		} else {
			dx, err = g.B.LayerNormBackward(x.T, o.Weight, out.Grad, o.Eps)
		}
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}
}

// offsetWeight returns w + offset as an F32 tensor the graph frees on
// Release (Gemma's 1 + weight, computed in float32 as transformers does).
func (g *Graph) offsetWeight(w backend.Tensor, offset float32) (backend.Tensor, error) {
	if w.DType() != backend.F32 {
		c, err := g.B.Copy(w)
		if err != nil {
			return nil, fmt.Errorf("widen weight %v: %w", w.Shape(), err)
		}
		w = g.Own(c)
	}
	out, err := g.B.Affine(w, 1, offset)
	if err != nil {
		return nil, fmt.Errorf("weight %v + %g: %w", w.Shape(), offset, err)
	}
	return g.Own(out), nil
}
