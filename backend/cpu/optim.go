package cpu

import (
	"math"
	"strconv"

	"github.com/ia3/ia3/backend"
)

// AdamW performs one torch.optim.AdamW step in place, in the order and
// precision of torch's single-tensor implementation: bias corrections and
// step size in float64, element updates in float32.
func (b *Backend) AdamW(pt, gt, mt, vt backend.Tensor, o backend.AdamWOptions) error {
	const op = "adamw"
	var ts [4]*tensor
	for i, t := range []backend.Tensor{pt, gt, mt, vt} {
		x, err := b.tensorOf(op, [4]string{"param", "grad", "m", "v"}[i], t)
		if err != nil {
			return err
		}
		ts[i] = x
	}
	p, g, m, v := ts[0].f, ts[1].f, ts[2].f, ts[3].f
	lr, beta1, beta2 := decimal(o.LR), decimal(o.Beta1), decimal(o.Beta2)
	decay := float32(1 - lr*decimal(o.WeightDecay))
	w1 := float32(1 - beta1) // lerp weight of the first moment
	b2, w2 := float32(beta2), float32(1-beta2)
	step := float64(o.Step)
	stepSize := float32(lr / (1 - math.Pow(beta1, step)))
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(beta2, step)))
	eps := o.Eps
	b.parallelFor(len(p), 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := g[i]
			p[i] *= decay
			// torch.lerp(m, g, w): m + w·(g − m) for w < 0.5, else g − (g − m)·(1 − w).
			if w1 < 0.5 {
				m[i] += w1 * (gi - m[i])
			} else {
				m[i] = gi - (gi-m[i])*(1-w1)
			}
			v[i] = v[i]*b2 + w2*gi*gi
			denom := float32(math.Sqrt(float64(v[i])))/bc2Sqrt + eps
			p[i] += -stepSize * m[i] / denom
		}
	})
	return nil
}

// decimal widens a float32 hyper-parameter to the float64 of its shortest
// decimal spelling: 0.999 as a float32 becomes the float64 0.999 that torch
// receives from Python, so 1 − beta2 is not off by 1e-5 relative.
func decimal(x float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
	if err != nil {
		return float64(x)
	}
	return v
}
