//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/conformance/ref"
)

// TestExpertLinearSplitWeights runs ExpertLinear forward and backward on
// expert weights over a lowered binding limit, held in several buffers
// split by rows (F32, Q8_0 and NF4; a dispatch per part, the backward
// adding the parts' terms), against the float64 reference.
func TestExpertLinearSplitWeights(t *testing.T) {
	for _, c := range []struct {
		dt         backend.DType
		limit      int
		rows, cols int
	}{
		{backend.F32, splitLimit, 100, 24},
		{backend.Q8_0, quantSplitLimit, 300, 512},
		{backend.NF4, quantSplitLimit, 1100, 256},
	} {
		t.Run(c.dt.String(), func(t *testing.T) {
			t.Setenv(webgpu.BindingLimitEnv, fmt.Sprint(c.limit))
			b := webgputest.OpenWebGPU(t)
			r := rand.New(rand.NewPCG(31, 32))
			const n, k, experts = 5, 2, 3
			ws := make([]backend.Tensor, experts)
			wr := make([]ref.T, experts)
			for e := range ws {
				var wd []float32
				if c.dt.IsQuantized() {
					ws[e], wd = uploadQuant(t, b, c.dt, c.dt.QuantFormat(), quantWeights(r, c.rows, c.cols), c.rows, c.cols)
				} else {
					wd = randoms(r, c.rows*c.cols)
					ws[e] = upload(t, b, wd, c.rows, c.cols)
				}
				require.Greater(t, webgpu.SplitParts(ws[e]), 1, "the weight is split")
				wr[e] = ref.T{Shape: []int{c.rows, c.cols}, Data: widen(wd)}
			}
			ids := []int32{2, 0, 1, 2, 0, 0, 2, 1, 1, 2}
			it, err := b.FromInt32(ids, n, k)
			require.NoError(t, err)
			refIDs := make([]int, len(ids))
			for i, id := range ids {
				refIDs[i] = int(id)
			}
			for _, backward := range []bool{false, true} {
				din := c.cols
				if backward {
					din = c.rows
				}
				xd := randoms(r, n*k*din)
				y, err := b.ExpertLinear(upload(t, b, xd, n, k, din), ws, it, backend.ExpertOptions{Backward: backward})
				require.NoError(t, err, "backward %v", backward)
				want, err := ref.ExpertLinear(ref.T{Shape: []int{n, k, din}, Data: widen(xd)}, wr, refIDs, k, backward)
				require.NoError(t, err)
				requireClose(t, want.Data, values(t, b, y), din)
			}
		})
	}
}
