//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
)

func TestAdamW(t *testing.T) {
	b := webgputest.Open(t)
	ps := []float32{1, -0.5, 0.25, 2}
	gs := []float32{0.1, -0.2, 0, 3}
	p, g := upload(t, b, ps, 4), upload(t, b, gs, 4)
	m, err := b.Zeros(4)
	require.NoError(t, err)
	v, err := b.Zeros(4)
	require.NoError(t, err)
	rp, rg := widen(ps), widen(gs)
	rm, rv := make([]float64, 4), make([]float64, 4)
	for step := 1; step <= 3; step++ {
		o := backend.AdamWOptions{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: step}
		require.NoError(t, b.AdamW(p, g, m, v, o))
		rp, rm, rv, err = ref.AdamW(rp, rg, rm, rv, ref.AdamWOpts{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: step})
		require.NoError(t, err)
	}
	gotP, gotM, gotV := values(t, b, p), values(t, b, m), values(t, b, v)
	for i := range rp {
		assert.InDelta(t, rp[i], gotP[i], 1e-6, "param %d", i)
		assert.InDelta(t, rm[i], gotM[i], 1e-7, "m %d", i)
		assert.InDelta(t, rv[i], gotV[i], 1e-7, "v %d", i)
	}
}
