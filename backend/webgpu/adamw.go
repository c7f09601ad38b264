//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"math"
	"strconv"

	"github.com/ia3/ia3/backend"
)

type adamwParams struct {
	N                                                 uint32
	Decay, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2 float32
	Eps, StepSize, BC2Sqrt                            float32
}

// AdamW updates param, m and v in place from grad with one torch.optim.AdamW
// step. The bias corrections are computed on the host in float64, as torch
// computes them in Python floats.
func (b *Backend) AdamW(param, grad, m, v backend.Tensor, o backend.AdamWOptions) error {
	ts, err := b.sameShape("AdamW", param, grad, m, v)
	if err != nil {
		return err
	}
	if o.Step < 1 {
		return fmt.Errorf("webgpu: AdamW: step %d, want ≥ 1", o.Step)
	}
	p, g, mt, vt := ts[0], ts[1], ts[2], ts[3]
	if p.buf == mt.buf || p.buf == vt.buf || mt.buf == vt.buf {
		return fmt.Errorf("webgpu: AdamW: param, m and v must be distinct tensors")
	}
	// The options are float32; torch's are Python floats. Recover the
	// decimal the caller wrote (0.9, not 0.89999998) before deriving the
	// constants, so that 1 − β and the bias corrections match torch's.
	lr, wd := decimal(o.LR), decimal(o.WeightDecay)
	beta1, beta2 := decimal(o.Beta1), decimal(o.Beta2)
	step := float64(o.Step)
	bc1 := 1 - math.Pow(beta1, step)
	bc2 := 1 - math.Pow(beta2, step)
	params := &adamwParams{
		N:             uint32(p.n),
		Decay:         float32(1 - lr*wd),
		Beta1:         float32(beta1),
		OneMinusBeta1: float32(1 - beta1),
		Beta2:         float32(beta2),
		OneMinusBeta2: float32(1 - beta2),
		Eps:           o.Eps,
		StepSize:      float32(lr / bc1),
		BC2Sqrt:       float32(math.Sqrt(bc2)),
	}
	if err := b.dispatch("adamw.wgsl", "adamw", params, b.groups1D(p.n, wg1D), p, mt, vt, g); err != nil {
		return fmt.Errorf("webgpu: AdamW %v: %w", p.shape, err)
	}
	return nil
}

// decimal returns the float64 nearest the shortest decimal that rounds to
// v: the value a caller who wrote 0.9 meant.
func decimal(v float32) float64 {
	d, err := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	if err != nil {
		return float64(v)
	}
	return d
}
