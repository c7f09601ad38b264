package train

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model/safetensors"
)

// AdamW holds torch.optim.AdamW's hyper-parameters (torch's defaults
// except the learning rate, which a Schedule supplies per step).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
}

// DefaultAdamW returns torch.optim.AdamW's defaults: betas (0.9, 0.999),
// eps 1e-8, weight decay 0.01.
func DefaultAdamW() AdamW { return AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01} }

// validate checks the ranges torch checks.
func (a AdamW) validate() error {
	switch {
	case !(a.Beta1 >= 0 && a.Beta1 < 1):
		return fmt.Errorf("AdamW beta1 %g must be in [0, 1)", a.Beta1)
	case !(a.Beta2 >= 0 && a.Beta2 < 1):
		return fmt.Errorf("AdamW beta2 %g must be in [0, 1)", a.Beta2)
	case !(a.Eps >= 0) || math.IsInf(a.Eps, 0):
		return fmt.Errorf("AdamW eps %g must be non-negative and finite", a.Eps)
	case !(a.WeightDecay >= 0) || math.IsInf(a.WeightDecay, 0):
		return fmt.Errorf("AdamW weight decay %g must be non-negative and finite", a.WeightDecay)
	}
	return nil
}

// Optimizer is torch.optim.AdamW over a fixed list of parameters, with the
// moment buffers on the parameters' device. Every parameter is decayed, as
// torch does for a single parameter group.
type Optimizer struct {
	b      backend.Backend
	hp     AdamW
	params []ia3.NamedParam
	m, v   []backend.Tensor
	step   int
}

// NewOptimizer allocates zeroed moment buffers for params.
func NewOptimizer(b backend.Backend, params []ia3.NamedParam, hp AdamW) (*Optimizer, error) {
	if err := hp.validate(); err != nil {
		return nil, err
	}
	if len(params) == 0 {
		return nil, errors.New("optimizer: no trainable parameters")
	}
	o := &Optimizer{b: b, hp: hp, params: slices.Clone(params)}
	for _, p := range params {
		if p.Param == nil || p.Param.T == nil {
			o.Free()
			return nil, fmt.Errorf("optimizer: parameter %s has no tensor", p.Name)
		}
		shape := p.Param.T.Shape()
		m, err := b.Zeros(shape...)
		if err != nil {
			o.Free()
			return nil, fmt.Errorf("optimizer: allocate exp_avg of %s %v: %w", p.Name, shape, err)
		}
		o.m = append(o.m, m)
		v, err := b.Zeros(shape...)
		if err != nil {
			o.Free()
			return nil, fmt.Errorf("optimizer: allocate exp_avg_sq of %s %v: %w", p.Name, shape, err)
		}
		o.v = append(o.v, v)
	}
	return o, nil
}

// Params returns the parameters in update order.
func (o *Optimizer) Params() []ia3.NamedParam { return slices.Clone(o.params) }

// Steps returns how many updates have been applied.
func (o *Optimizer) Steps() int { return o.step }

// Step applies one AdamW update with learning rate lr, grads[i] being the
// gradient of Params()[i]. Parameters and moments are updated in place on
// the device.
func (o *Optimizer) Step(grads []backend.Tensor, lr float64) error {
	if len(grads) != len(o.params) {
		return fmt.Errorf("optimizer step: %d gradients for %d parameters", len(grads), len(o.params))
	}
	opt := backend.AdamWOptions{
		LR: float32(lr), Beta1: float32(o.hp.Beta1), Beta2: float32(o.hp.Beta2),
		Eps: float32(o.hp.Eps), WeightDecay: float32(o.hp.WeightDecay), Step: o.step + 1,
	}
	for i, p := range o.params {
		if err := o.b.AdamW(p.Param.T, grads[i], o.m[i], o.v[i], opt); err != nil {
			return fmt.Errorf("optimizer step %d: AdamW on %s %v: %w", opt.Step, p.Name, p.Param.T.Shape(), err)
		}
	}
	o.step++
	return nil
}

// Free releases the moment buffers.
func (o *Optimizer) Free() {
	for _, t := range append(o.m, o.v...) {
		if t != nil {
			o.b.Free(t)
		}
	}
	o.m, o.v = nil, nil
}

// State downloads the moment buffers as safetensors entries
// "exp_avg/<name>" and "exp_avg_sq/<name>" (torch's state names).
func (o *Optimizer) State() ([]safetensors.Tensor, error) {
	var out []safetensors.Tensor
	for i, p := range o.params {
		for _, s := range []struct {
			prefix string
			t      backend.Tensor
		}{{"exp_avg/", o.m[i]}, {"exp_avg_sq/", o.v[i]}} {
			v, err := o.b.ToFloat32(s.t)
			if err != nil {
				return nil, fmt.Errorf("optimizer state: download %s%s: %w", s.prefix, p.Name, err)
			}
			out = append(out, safetensors.F32Tensor(s.prefix+p.Name, s.t.Shape(), v))
		}
	}
	return out, nil
}

// LoadState restores the moment buffers State wrote and the step count.
// Every parameter must be present with its shape.
func (o *Optimizer) LoadState(path string, step int) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("optimizer state: %w", err)
	}
	defer f.Close()
	for i, p := range o.params {
		for _, s := range []struct {
			prefix string
			t      *backend.Tensor
		}{{"exp_avg/", &o.m[i]}, {"exp_avg_sq/", &o.v[i]}} {
			key := s.prefix + p.Name
			info, ok := f.Info(key)
			if !ok {
				return fmt.Errorf("optimizer state %s: no tensor %q", path, key)
			}
			shape := (*s.t).Shape()
			if !slices.Equal(info.Shape, shape) {
				return fmt.Errorf("optimizer state %s: %s has shape %v, parameter has %v", path, key, info.Shape, shape)
			}
			v, err := f.Float32(key)
			if err != nil {
				return fmt.Errorf("optimizer state %s: %s: %w", path, key, err)
			}
			t, err := o.b.FromFloat32(v, shape...)
			if err != nil {
				return fmt.Errorf("optimizer state: upload %s: %w", key, err)
			}
			o.b.Free(*s.t)
			*s.t = t
		}
	}
	o.step = step
	return nil
}
