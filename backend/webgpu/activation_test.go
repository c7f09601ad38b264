//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
)

// TestActivations runs every activation and its gradient on 22 values
// (the scalar entries) and on the first 20 (the vec4 entries).
func TestActivations(t *testing.T) {
	b := webgputest.Open(t)
	all := []float32{-9, -4.5, -3, -2.2, -1.3, -1, -0.7, -0.3, -0.05, 0, 1e-4, 0.1, 0.39, 0.41, 0.5, 0.9, 1.2, 2, 2.9, 3.5, 5, 12}
	for _, n := range []int{len(all), 20} {
		xs := all[:n]
		dys := seq(n, 0.5, 0.1)
		x := upload(t, b, xs, n)
		dy := upload(t, b, dys, n)
		for f := backend.GELUErf; f <= backend.Sigmoid; f++ {
			t.Run(fmt.Sprintf("%s/n=%d", f, n), func(t *testing.T) {
				y, err := b.Activation(f, x)
				require.NoError(t, err)
				g, err := b.ActivationBackward(f, x, dy)
				require.NoError(t, err)
				gotY, gotG := values(t, b, y), values(t, b, g)
				for i, v := range xs {
					wy, err := ref.Act(f, float64(v))
					require.NoError(t, err)
					wd, err := ref.ActGrad(f, float64(v))
					require.NoError(t, err)
					assert.InDelta(t, wy, gotY[i], 2e-6*math.Max(1, math.Abs(wy)), "f(%v)", v)
					assert.InDelta(t, wd*float64(dys[i]), gotG[i], 4e-6*math.Max(1, math.Abs(wd*float64(dys[i]))), "f'(%v)", v)
				}
			})
		}
	}
}

// TestErfAccuracy checks the WGSL erf on a dense grid through GELU: the
// error of erf shows in gelu(x)/x·2 − 1.
func TestErfAccuracy(t *testing.T) {
	b := webgputest.Open(t)
	var xs []float32
	for v := -6.0; v <= 6.0; v += 0.0137 {
		if math.Abs(v) > 1e-3 {
			xs = append(xs, float32(v))
		}
	}
	x := upload(t, b, xs, len(xs))
	y, err := b.Activation(backend.GELUErf, x)
	require.NoError(t, err)
	got := values(t, b, y)
	worst := 0.0
	for i, v := range xs {
		want, err := ref.Act(backend.GELUErf, float64(v))
		require.NoError(t, err)
		worst = math.Max(worst, math.Abs(float64(got[i])-want)/math.Max(1, math.Abs(want)))
	}
	t.Logf("worst relative GELU error %.3g", worst)
	assert.Less(t, worst, 3e-7, "worst relative GELU error")
}

// TestSwiGLU checks SwiGLU and its gradients on 5 values (scalar entries)
// and on the first 4 (vec4 entries).
func TestSwiGLU(t *testing.T) {
	b := webgputest.Open(t)
	allG := []float32{-3, -0.5, 0, 0.7, 2.5}
	allU := []float32{1, -2, 3, 0.5, -1}
	allD := []float32{0.3, 1, -1, 2, 0.25}
	for _, n := range []int{5, 4} {
		gs, us, ds := allG[:n], allU[:n], allD[:n]
		g, u, d := upload(t, b, gs, n), upload(t, b, us, n), upload(t, b, ds, n)
		y, err := b.SwiGLU(g, u)
		require.NoError(t, err)
		dg, du, err := b.SwiGLUBackward(g, u, d)
		require.NoError(t, err)
		gr, ur, dr := refT(t, gs, n), refT(t, us, n), refT(t, ds, n)
		wantY, err := ref.SwiGLU(gr, ur)
		require.NoError(t, err)
		wantDG, wantDU, err := ref.SwiGLUBackward(gr, ur, dr)
		require.NoError(t, err)
		assert.InDeltaSlice(t, wantY.Data, values(t, b, y), 1e-6, "n=%d", n)
		assert.InDeltaSlice(t, wantDG.Data, values(t, b, dg), 1e-6, "n=%d", n)
		assert.InDeltaSlice(t, wantDU.Data, values(t, b, du), 1e-6, "n=%d", n)
	}
}
