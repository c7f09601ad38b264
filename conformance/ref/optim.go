package ref

import (
	"fmt"
	"math"
)

// AdamWOpts is one torch.optim.AdamW step.
type AdamWOpts struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Step                               int // 1 for the first step
}

// AdamW returns the parameter and moments after one step, as torch does it:
// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// p ← p − (lr / (1−β1ᵗ)) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps).
func AdamW(p, g, m, v []float64, o AdamWOpts) (np, nm, nv []float64, err error) {
	if len(g) != len(p) || len(m) != len(p) || len(v) != len(p) {
		return nil, nil, nil, fmt.Errorf("ref AdamW: lengths param %d grad %d m %d v %d differ", len(p), len(g), len(m), len(v))
	}
	if o.Step < 1 {
		return nil, nil, nil, fmt.Errorf("ref AdamW: step %d, want ≥ 1", o.Step)
	}
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	np, nm, nv = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	for i := range p {
		x := p[i] * (1 - o.LR*o.WeightDecay)
		nm[i] = o.Beta1*m[i] + (1-o.Beta1)*g[i]
		nv[i] = o.Beta2*v[i] + (1-o.Beta2)*g[i]*g[i]
		np[i] = x - (o.LR/bc1)*nm[i]/(math.Sqrt(nv[i])/math.Sqrt(bc2)+o.Eps)
	}
	return np, nm, nv, nil
}
