//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/conformance/ref"
)

// TestExpertLinearSplitWeights runs ExpertLinear forward and backward on
// expert weights over a lowered binding limit, held in several buffers
// split by rows (F32, Q8_0 and NF4; a dispatch per part, the backward
// adding the parts' terms), under every kernel, against the float64
// reference.
func TestExpertLinearSplitWeights(t *testing.T) {
	for _, kernel := range expertKernels {
		t.Run(kernel, func(t *testing.T) { testExpertLinearSplitWeights(t, kernel) })
	}
}

func testExpertLinearSplitWeights(t *testing.T, kernel string) {
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
			b := openExpertKernel(t, kernel)
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

// TestExpertLinearIDOutOfRange checks that an expert id outside [0, E)
// is reported at the download, once, and leaves its slot's row zero, in
// the forward and the backward, under every kernel.
func TestExpertLinearIDOutOfRange(t *testing.T) {
	for _, kernel := range expertKernels {
		t.Run(kernel, func(t *testing.T) { testExpertLinearIDOutOfRange(t, kernel) })
	}
}

func testExpertLinearIDOutOfRange(t *testing.T, kernel string) {
	b := openExpertKernel(t, kernel)
	r := rand.New(rand.NewPCG(33, 34))
	for _, c := range []struct {
		in       int
		backward bool
	}{{16, false}, {128, false}, {300, false}, {16, true}} {
		t.Run(fmt.Sprintf("in %d backward %v", c.in, c.backward), func(t *testing.T) {
			const out = 5
			ws := []backend.Tensor{upload(t, b, randoms(r, out*c.in), out, c.in), upload(t, b, randoms(r, out*c.in), out, c.in)}
			din, dout := c.in, out
			if c.backward {
				din, dout = out, c.in
			}
			ids, err := b.FromInt32([]int32{1, 2, 0, -1}, 2, 2)
			require.NoError(t, err)
			y, err := b.ExpertLinear(upload(t, b, randoms(r, 2*din), 2, din), ws, ids, backend.ExpertOptions{Backward: c.backward})
			require.NoError(t, err)
			_, err = b.ToFloat32(y)
			require.ErrorContains(t, err, "expert id is outside")
			require.NoError(t, b.Sync(), "the error is reported once")
			got := values(t, b, y)
			require.Equal(t, make([]float32, dout), got[1*dout:2*dout], "slot 1 (id 2)")
			require.Equal(t, make([]float32, dout), got[3*dout:4*dout], "slot 3 (id −1)")
			require.NotEqual(t, make([]float32, dout), got[0:dout], "slot 0 (id 1) is computed")
		})
	}
}
