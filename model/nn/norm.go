package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// Norm normalises x over its last axis with module n: LayerNorm
// ((x − mean)/sqrt(var + eps) ⊙ weight + bias) or, when n.RMS is set, RMS
// norm (x/sqrt(mean(x²) + eps) ⊙ weight). Only x gets a gradient: IA3 never
// trains norm parameters, so a trainable one is an error.
func (g *Graph) Norm(x *Value, n *Norm) *Value {
	op := "norm"
	if n != nil {
		op = "norm " + n.Class
		if n.Weight != nil {
			op = "norm " + n.Weight.Name
		}
	}
	if !g.ok(op, x) {
		return nil
	}
	if n == nil {
		return g.Fail(op, fmt.Errorf("nil module"))
	}
	var gamma, beta backend.Tensor
	for _, p := range []*Param{n.Weight, n.Bias} {
		if p == nil {
			continue
		}
		v := g.Param(p)
		if v == nil {
			return nil
		}
		if v.NeedsGrad() {
			return g.Fail(op, fmt.Errorf("training norm parameter %s is not supported", p.Name))
		}
	}
	if n.Weight != nil {
		gamma = n.Weight.T
		if n.WeightOffset != 0 {
			var err error
			if gamma, err = g.offsetWeight(gamma, n.WeightOffset); err != nil {
				return g.Fail(op, err)
			}
		}
	}
	if n.Bias != nil {
		if n.RMS {
			return g.Fail(op, fmt.Errorf("an RMS norm has no bias, got %s", n.Bias.Name))
		}
		beta = n.Bias.T
	}
	var y backend.Tensor
	var err error
	if n.RMS {
		y, err = g.B.RMSNorm(x.T, gamma, n.Eps)
	} else {
		y, err = g.B.LayerNorm(x.T, gamma, beta, n.Eps)
	}
	if err != nil {
		return g.Fail(op, fmt.Errorf("x %v: %w", x.Shape(), err))
	}
	return g.result(y, func(out *Value) error {
		// The backend recomputes the row statistics from x:
		//   LayerNorm: dx = (γ⊙dy − mean(γ⊙dy) − x̂·mean(γ⊙dy⊙x̂)) / σ
		//   RMS norm:  dx = (γ⊙dy − x̂·mean(γ⊙dy⊙x̂)) / rms
		var dx backend.Tensor
		var err error
		if n.RMS {
			dx, err = g.B.RMSNormBackward(x.T, gamma, out.Grad, n.Eps)
		} else {
			dx, err = g.B.LayerNormBackward(x.T, gamma, out.Grad, n.Eps)
		}
		if err != nil {
			return fmt.Errorf("%s x %v: %w", op, x.Shape(), err)
		}
		return g.accumulate(x, dx)
	}, x)
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
