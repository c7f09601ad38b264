//go:build cgo && !nowebgpu

package webgpu_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// adamwRef runs torch.optim.AdamW's single-tensor update in float64.
func adamwRef(p, g, m, v []float64, o backend.AdamWOptions, lr, b1, b2, eps, wd float64) {
	t := float64(o.Step)
	bc1 := 1 - math.Pow(b1, t)
	bc2 := 1 - math.Pow(b2, t)
	for i := range p {
		p[i] *= 1 - lr*wd
		m[i] += (1 - b1) * (g[i] - m[i])
		v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		denom := math.Sqrt(v[i])/math.Sqrt(bc2) + eps
		p[i] -= lr / bc1 * m[i] / denom
	}
}

func TestAdamW(t *testing.T) {
	b := webgputest.Open(t)
	ps := []float32{1, -0.5, 0.25, 2}
	gs := []float32{0.1, -0.2, 0, 3}
	p, g := upload(t, b, ps, 4), upload(t, b, gs, 4)
	m, err := b.Zeros(4)
	require.NoError(t, err)
	v, err := b.Zeros(4)
	require.NoError(t, err)
	rp, rm, rv := make([]float64, 4), make([]float64, 4), make([]float64, 4)
	rg := make([]float64, 4)
	for i := range ps {
		rp[i], rg[i] = float64(ps[i]), float64(gs[i])
	}
	for step := 1; step <= 3; step++ {
		o := backend.AdamWOptions{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: step}
		require.NoError(t, b.AdamW(p, g, m, v, o))
		adamwRef(rp, rg, rm, rv, o, 1e-2, 0.9, 0.999, 1e-8, 0.01)
	}
	gotP, gotM, gotV := values(t, b, p), values(t, b, m), values(t, b, v)
	for i := range rp {
		assert.InDelta(t, rp[i], gotP[i], 1e-6, "param %d", i)
		assert.InDelta(t, rm[i], gotM[i], 1e-7, "m %d", i)
		assert.InDelta(t, rv[i], gotV[i], 1e-7, "v %d", i)
	}
}
