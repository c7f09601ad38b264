//go:build cgo && !nowebgpu

package webgpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
)

// Row lengths around the 256-thread workgroup of the row kernels: shorter
// than it, one element past a power of two, and several strides long.
var normWidths = []int{1, 3, 7, 33, 129, 256, 1000, 4099}

func TestLayerNormHandValues(t *testing.T) {
	k := newOpKit(t)
	// mean 2, biased variance 2/3: (x - 2)/sqrt(2/3) = ∓1.2247449, 0.
	y, err := k.b.LayerNorm(k.f32([]float32{1, 2, 3}, 1, 3), nil, nil, 0)
	require.NoError(t, err)
	assertClose(t, []float64{-1.2247448714, 0, 1.2247448714}, k.get(y), 1e-6)

	// gamma and beta apply after normalising; a constant row gives beta.
	y, err = k.b.LayerNorm(k.f32([]float32{1, 2, 3, 5, 5, 5}, 2, 3),
		k.f32([]float32{2, 1, -1}, 3), k.f32([]float32{0.5, 0, 1}, 3), 1e-5)
	require.NoError(t, err)
	r := 1 / math.Sqrt(2.0/3+1e-5)
	assertClose(t, []float64{0.5 - 2*r, 0, 1 - r, 0.5, 0, 1}, k.get(y), 1e-6)
}

func TestLayerNorm(t *testing.T) {
	k := newOpKit(t)
	for _, d := range normWidths {
		for _, tc := range []struct {
			name        string
			gamma, beta bool
		}{{"plain", false, false}, {"gamma", true, false}, {"gamma+beta", true, true}, {"beta", false, true}} {
			rows := 3
			x := randVals(uint64(d), rows*d, 3, 1.5) // offset mean: the two-pass variance matters
			gamma, beta := randVals(uint64(d)+1, d, 1, 0.5), randVals(uint64(d)+2, d, 0, 0.5)
			var g, bt backend.Tensor
			if tc.gamma {
				g = k.f32(gamma, d)
			} else {
				gamma = nil
			}
			if tc.beta {
				bt = k.f32(beta, d)
			} else {
				beta = nil
			}
			y, err := k.b.LayerNorm(k.f32(x, rows, d), g, bt, 1e-5)
			require.NoError(t, err, "d=%d %s", d, tc.name)
			assert.Equal(t, []int{rows, d}, y.Shape())
			want := refOK(t)(ref.LayerNorm(refT(t, x, rows, d), refOpt(t, gamma, d), refOpt(t, beta, d), 1e-5))
			assertClose(t, want, k.get(y), 2e-5, "d=%d %s", d, tc.name)
		}
	}
}

func TestLayerNormBackward(t *testing.T) {
	k := newOpKit(t)
	for _, d := range normWidths {
		for _, withGamma := range []bool{false, true} {
			rows, eps := 2, float32(1e-5)
			x := randVals(uint64(d)+10, rows*d, -1, 2)
			dy := randVals(uint64(d)+11, rows*d, 0, 1)
			gamma := randVals(uint64(d)+12, d, 1, 0.5)
			var g backend.Tensor
			if withGamma {
				g = k.f32(gamma, d)
			} else {
				gamma = nil
			}
			dx, err := k.b.LayerNormBackward(k.f32(x, rows, d), g, k.f32(dy, rows, d), eps)
			require.NoError(t, err)
			want := refOK(t)(ref.LayerNormBackward(refT(t, x, rows, d), refOpt(t, gamma, d), refT(t, dy, rows, d), float64(eps)))
			assertClose(t, want, k.get(dx), 2e-4, "d=%d gamma=%v", d, withGamma)
		}
	}
}

func TestRMSNormHandValues(t *testing.T) {
	k := newOpKit(t)
	// mean(x²) = 12.5: x/sqrt(12.5) = 0.8485281, 1.1313708; w scales after.
	y, err := k.b.RMSNorm(k.f32([]float32{3, 4}, 1, 2), k.f32([]float32{1, -2}, 2), 0)
	require.NoError(t, err)
	assertClose(t, []float64{0.8485281374, -2.2627416998}, k.get(y), 1e-6)
}

func TestRMSNorm(t *testing.T) {
	k := newOpKit(t)
	for _, d := range normWidths {
		for _, withW := range []bool{false, true} {
			rows := 3
			x := randVals(uint64(d)+20, rows*d, 0.5, 2)
			w := randVals(uint64(d)+21, d, 1, 0.5)
			var wt backend.Tensor
			if withW {
				wt = k.f32(w, d)
			} else {
				w = nil
			}
			y, err := k.b.RMSNorm(k.f32(x, rows, d), wt, 1e-6)
			require.NoError(t, err)
			want := refOK(t)(ref.RMSNorm(refT(t, x, rows, d), refOpt(t, w, d), 1e-6))
			assertClose(t, want, k.get(y), 2e-5, "d=%d w=%v", d, withW)
		}
	}
}

func TestRMSNormBackward(t *testing.T) {
	k := newOpKit(t)
	for _, d := range normWidths {
		for _, withW := range []bool{false, true} {
			rows, eps := 2, float32(1e-6)
			x := randVals(uint64(d)+30, rows*d, 0.2, 2)
			dy := randVals(uint64(d)+31, rows*d, 0, 1)
			w := randVals(uint64(d)+32, d, 1, 0.5)
			var wt backend.Tensor
			if withW {
				wt = k.f32(w, d)
			} else {
				w = nil
			}
			dx, err := k.b.RMSNormBackward(k.f32(x, rows, d), wt, k.f32(dy, rows, d), eps)
			require.NoError(t, err)
			want := refOK(t)(ref.RMSNormBackward(refT(t, x, rows, d), refOpt(t, w, d), refT(t, dy, rows, d), float64(eps)))
			assertClose(t, want, k.get(dx), 2e-4, "d=%d w=%v", d, withW)
		}
	}
}

func TestRMSNormMoreRowsThanOneGridAxis(t *testing.T) {
	k := newOpKit(t)
	// 65537 rows need more workgroups than one dispatch axis allows (65535):
	// the row index folds over y.
	const rows, d = 65537, 2
	x := randVals(40, rows*d, 0, 2)
	y, err := k.b.RMSNorm(k.f32(x, rows, d), nil, 1e-6)
	require.NoError(t, err)
	assertClose(t, refOK(t)(ref.RMSNorm(refT(t, x, rows, d), nil, 1e-6)), k.get(y), 2e-5)
}

// --- helpers shared by this package's kernel tests ---

// opKit uploads and downloads tensors of a WebGPU backend for a test,
// failing the test on any error.
type opKit struct {
	t testing.TB
	b backend.Backend
}

// newOpKit opens the WebGPU backend (skipping without an adapter).
func newOpKit(t testing.TB) *opKit {
	return &opKit{t: t, b: webgputest.Open(t)}
}

func (k *opKit) f32(data []float32, shape ...int) backend.Tensor {
	k.t.Helper()
	x, err := k.b.FromFloat32(data, shape...)
	require.NoError(k.t, err)
	return x
}

func (k *opKit) i32(data []int32, shape ...int) backend.Tensor {
	k.t.Helper()
	x, err := k.b.FromInt32(data, shape...)
	require.NoError(k.t, err)
	return x
}

func (k *opKit) get(x backend.Tensor) []float32 {
	k.t.Helper()
	v, err := k.b.ToFloat32(x)
	require.NoError(k.t, err)
	return v
}

// randVals returns n deterministic values uniform in mean ± spread.
func randVals(seed uint64, n int, mean, spread float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x1a3))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(mean + spread*(2*r.Float64()-1))
	}
	return out
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// refT wraps float32 values as a conformance/ref tensor of that shape.
func refT(t testing.TB, x []float32, shape ...int) ref.T {
	t.Helper()
	r, err := ref.FromData(widen(x), shape...)
	require.NoError(t, err)
	return r
}

// refOpt is refT for an optional operand: nil stays nil.
func refOpt(t testing.TB, x []float32, shape ...int) *ref.T {
	t.Helper()
	if x == nil {
		return nil
	}
	r := refT(t, x, shape...)
	return &r
}

// refOK returns a function that takes a conformance/ref result and returns
// its values, failing the test on the reference's error.
func refOK(t testing.TB) func(ref.T, error) []float64 {
	return func(r ref.T, err error) []float64 {
		t.Helper()
		require.NoError(t, err)
		return r.Data
	}
}

// assertClose checks |got − want| ≤ tol·max(1, |want|) element-wise and
// reports the first mismatch.
func assertClose(t testing.TB, want []float64, got []float32, tol float64, msg ...any) {
	t.Helper()
	require.Len(t, got, len(want), msg...)
	for i := range want {
		if math.IsNaN(want[i]) {
			if !assert.True(t, math.IsNaN(float64(got[i])), "element %d: want NaN, got %v %v", i, got[i], msg) {
				return
			}
			continue
		}
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
			assert.Failf(t, "values differ", "element %d: got %v, want %v (|diff| %.3g > tol %.3g) %v", i, got[i], want[i], d, tol, msg)
			return
		}
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	k := newOpKit(b)
	const rows, d = 512, 768
	x := k.f32(randVals(1, rows*d, 0, 1), rows, d)
	g, bt := k.f32(randVals(2, d, 1, 0.1), d), k.f32(randVals(3, d, 0, 0.1), d)
	for b.Loop() {
		y, err := k.b.LayerNorm(x, g, bt, 1e-5)
		require.NoError(b, err)
		require.NoError(b, k.b.Sync())
		k.b.Free(y)
	}
}
