package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// TestGELUTanhSliceKernels checks geluTanhInto and geluTanhGradInto (the
// vector kernels where the CPU has them) against conformance/ref's float64 GELU over
// [−12, 12] and a few special values, at a length that leaves a scalar tail.
func TestGELUTanhSliceKernels(t *testing.T) {
	const n = 24003
	x := make([]float32, n)
	for i := range x {
		x[i] = -12 + 24*float32(i)/n
	}
	copy(x, []float32{0, -1e-30, 1e-30, -100, 100, 1e4, -1e4})
	dy := random(3, n)
	y, dx := make([]float32, n), make([]float32, n)
	geluTanhInto(y, x)
	geluTanhGradInto(dx, x, dy)
	// Errors relative to |x| and |dy|: GELU's value near its minimum is a
	// difference of nearly equal terms, so it is measured against the scale
	// of its input, as the conformance suite measures against the tensor's.
	var worstY, worstDx float64
	for i, v := range x {
		wantY, err := ref.Act(backend.GELUTanh, float64(v))
		require.NoError(t, err)
		grad, err := ref.ActGrad(backend.GELUTanh, float64(v))
		require.NoError(t, err)
		wantDx := float64(dy[i]) * grad
		worstY = max(worstY, math.Abs(float64(y[i])-wantY)/max(math.Abs(float64(v)), 1e-30))
		worstDx = max(worstDx, math.Abs(float64(dx[i])-wantDx)/max(math.Abs(float64(dy[i])), 1e-30))
	}
	t.Logf("largest error: GELU %.3g·|x|, GELU′ %.3g·|dy|", worstY, worstDx)
	assert.Less(t, worstY, 1e-6)
	assert.Less(t, worstDx, 1e-6)
	assert.InDeltaSlice(t, []float32{0, -5e-31, 5e-31, 0, 100, 1e4, 0}, y[:7], 1e-33)
}
