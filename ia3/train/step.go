package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// stepper runs the forward and backward passes of the micro-batches of one
// optimiser step, accumulating their gradients on the device, and then the
// clipping and the update that end the step.
type stepper struct {
	b    backend.Backend
	base *model.Model
	opt  *Optimizer
	// clip is the maximum global gradient norm; 0 disables clipping.
	clip float64

	acc    []backend.Tensor // summed gradients, one per optimiser parameter
	losses []backend.Tensor // each micro-batch's loss, [1]
}

// stepStats is what one optimiser step reports.
type stepStats struct {
	Loss float64
	// GradNorm is the global gradient norm before clipping (NaN when
	// clipping is off: it is not computed then).
	GradNorm float64
}

// errNonFinite marks a step whose loss is NaN or infinite.
var errNonFinite = errors.New("loss is not finite")

// accumulate runs one micro-batch forward and backward and adds its
// gradients to the step's sums.
func (s *stepper) accumulate(in *model.Inputs) error {
	return s.accumulateLoss(func(g *nn.Graph) *nn.Value { return s.base.Loss(g, in) })
}

// accumulateLoss is accumulate for any loss built on the graph: one
// T-Few example's losses, a mixed-adapter batch's.
func (s *stepper) accumulateLoss(lossOf func(g *nn.Graph) *nn.Value) error {
	g := nn.NewGraph(s.b, true)
	defer g.Release()
	loss := lossOf(g)
	if err := g.Err(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if err := g.Backward(loss); err != nil {
		return err
	}
	lc, err := s.b.Copy(loss.T)
	if err != nil {
		return fmt.Errorf("keep loss: %w", err)
	}
	s.losses = append(s.losses, lc)
	if s.acc == nil {
		s.acc = make([]backend.Tensor, len(s.opt.params))
	}
	for i, p := range s.opt.params {
		gr := g.ParamGrad(p.Param)
		if gr == nil {
			continue // not reached by this batch: a zero gradient
		}
		if s.acc[i] == nil {
			if s.acc[i], err = s.b.Copy(gr); err != nil {
				return fmt.Errorf("keep gradient of %s: %w", p.Name, err)
			}
			continue
		}
		sum, err := s.b.Add(s.acc[i], gr)
		if err != nil {
			return fmt.Errorf("accumulate gradient of %s %v: %w", p.Name, gr.Shape(), err)
		}
		s.b.Free(s.acc[i])
		s.acc[i] = sum
	}
	return nil
}

// finish ends the step: reduce, then the AdamW update with learning rate
// lr. A non-finite loss returns errNonFinite without updating.
func (s *stepper) finish(lr float64) (stepStats, error) {
	defer s.reset()
	st, err := s.reduce()
	if err != nil {
		return st, err
	}
	return st, s.opt.Step(s.acc, lr)
}

// reduce averages the accumulated gradients over the micro-batches and
// clips them by global norm as torch's clip_grad_norm_ does (scale by
// max_norm/(norm+1e-6) when that is below 1), leaving them in s.acc, and
// returns the mean micro-batch loss. Only one small tensor is downloaded:
// the losses and the squared norm together.
func (s *stepper) reduce() (stepStats, error) {
	st := stepStats{Loss: math.NaN(), GradNorm: math.NaN()}
	k := len(s.losses)
	if k == 0 {
		return st, errors.New("optimizer step without a micro-batch")
	}
	for i, p := range s.opt.params {
		if s.acc[i] == nil {
			z, err := s.b.Zeros(p.Param.T.Shape()...)
			if err != nil {
				return st, fmt.Errorf("zero gradient of %s: %w", p.Name, err)
			}
			s.acc[i] = z
		}
	}
	if k > 1 {
		if err := s.scale(1 / float64(k)); err != nil {
			return st, err
		}
	}
	parts := append([]backend.Tensor(nil), s.losses...)
	var temps []backend.Tensor
	defer func() {
		for _, t := range temps {
			s.b.Free(t)
		}
	}()
	if s.clip > 0 {
		sq, err := s.sumSquares()
		if err != nil {
			return st, err
		}
		temps = append(temps, sq)
		parts = append(parts, sq)
	}
	packed := parts[0]
	if len(parts) > 1 {
		var err error
		if packed, err = s.b.Concat(0, parts...); err != nil {
			return st, fmt.Errorf("pack step statistics: %w", err)
		}
		temps = append(temps, packed)
	}
	vals, err := s.b.ToFloat32(packed)
	if err != nil {
		return st, fmt.Errorf("download step statistics: %w", err)
	}
	sum := 0.0
	for _, v := range vals[:k] {
		sum += float64(v)
	}
	st.Loss = sum / float64(k)
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, errNonFinite
	}
	if s.clip > 0 {
		st.GradNorm = math.Sqrt(float64(vals[k]))
		if coef := s.clip / (st.GradNorm + 1e-6); coef < 1 {
			if err := s.scale(coef); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// scale multiplies every accumulated gradient by f.
func (s *stepper) scale(f float64) error {
	for i, a := range s.acc {
		t, err := s.b.Affine(a, float32(f), 0)
		if err != nil {
			return fmt.Errorf("scale gradient of %s: %w", s.opt.params[i].Name, err)
		}
		s.b.Free(a)
		s.acc[i] = t
	}
	return nil
}

// sumSquares returns Σ‖g‖² over every accumulated gradient as [1].
func (s *stepper) sumSquares() (backend.Tensor, error) {
	var total backend.Tensor
	for i, a := range s.acc {
		sq, err := s.b.SumSquares(a)
		if err != nil {
			return nil, fmt.Errorf("gradient norm of %s: %w", s.opt.params[i].Name, err)
		}
		if total == nil {
			total = sq
			continue
		}
		sum, err := s.b.Add(total, sq)
		s.b.Free(total)
		s.b.Free(sq)
		if err != nil {
			return nil, fmt.Errorf("gradient norm: %w", err)
		}
		total = sum
	}
	return total, nil
}

// reset frees the step's accumulators.
func (s *stepper) reset() {
	for _, t := range s.acc {
		if t != nil {
			s.b.Free(t)
		}
	}
	for _, t := range s.losses {
		s.b.Free(t)
	}
	s.acc, s.losses = nil, nil
}
