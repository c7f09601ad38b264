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

// expertKernels are the ExpertKernelEnv settings the tests run: every
// kernel forced, and the auto choice.
var expertKernels = []string{"simple", "dot", "tiled", "auto"}

// openExpertKernel opens the WebGPU backend with ExpertKernelEnv set.
func openExpertKernel(t testing.TB, kernel string) *webgpu.Backend {
	t.Helper()
	t.Setenv(webgpu.ExpertKernelEnv, kernel)
	return webgputest.OpenWebGPU(t)
}

// exactWeights returns n multiples of 1/32 in [−1, 1): exact in F16 and
// BF16, so the reference sees the values the device stores.
func exactWeights(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.IntN(64)-32) / 32
	}
	return out
}

// expertWeight uploads one expert's weight [rows, cols] as dt and returns
// it with the float64 values the device holds (quantized: package quant's
// dequantisation).
func expertWeight(t *testing.T, b backend.Backend, r *rand.Rand, dt backend.DType, rows, cols int) (backend.Tensor, ref.T) {
	t.Helper()
	var w backend.Tensor
	var wd []float32
	switch {
	case dt.IsQuantized():
		w, wd = uploadQuant(t, b, dt, dt.QuantFormat(), quantWeights(r, rows, cols), rows, cols)
	case dt == backend.F32:
		wd = randoms(r, rows*cols)
		w = upload(t, b, wd, rows, cols)
	default:
		wd = exactWeights(r, rows*cols)
		var err error
		w, err = b.FromBytes(dt, encodeFloats(t, dt, wd), rows, cols)
		require.NoError(t, err)
	}
	return w, ref.T{Shape: []int{rows, cols}, Data: widen(wd)}
}

// TestExpertLinearKernels runs every ExpertLinear kernel (forced through
// ExpertKernelEnv, and auto) forward and backward, x shared by a token's
// slots or one row per slot, on every weight dtype, against the float64
// reference. The shapes cross the tiles of expert_tiled (N·k, out and in
// not multiples of 64 or 16), and the routings include an expert with no
// slot, every slot on one expert (more than one tile of slots), and k = E.
func TestExpertLinearKernels(t *testing.T) {
	type shape struct{ n, k, e, out, in int }
	cases := []struct {
		name    string
		dt      backend.DType
		sh      shape
		routing string // "random", "skip1" (expert 1 gets none), "one" (all on expert e−1), "perm" (k = E, each token every expert)
	}{
		{"tiny", backend.F32, shape{1, 1, 1, 1, 1}, "random"},
		{"ragged", backend.F32, shape{37, 3, 5, 70, 45}, "random"},
		{"empty expert", backend.F32, shape{29, 2, 4, 65, 33}, "skip1"},
		{"one expert", backend.F32, shape{65, 2, 3, 67, 17}, "one"},
		{"k = E", backend.F32, shape{20, 4, 4, 33, 80}, "perm"},
		{"decode", backend.F32, shape{1, 2, 8, 100, 300}, "random"},
		{"F16", backend.F16, shape{23, 3, 4, 66, 31}, "random"},
		{"BF16", backend.BF16, shape{23, 3, 4, 66, 31}, "skip1"},
		{"Q8_0", backend.Q8_0, shape{25, 3, 4, 70, 96}, "random"},
		{"NF4", backend.NF4, shape{25, 3, 4, 70, 192}, "skip1"},
		{"Q8_0 decode", backend.Q8_0, shape{1, 2, 4, 20, 256}, "random"},
	}
	for _, kernel := range expertKernels {
		t.Run(kernel, func(t *testing.T) {
			b := openExpertKernel(t, kernel)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(41, uint64(c.sh.n*c.sh.out)))
					sh := c.sh
					ws := make([]backend.Tensor, sh.e)
					wr := make([]ref.T, sh.e)
					for e := range ws {
						ws[e], wr[e] = expertWeight(t, b, r, c.dt, sh.out, sh.in)
					}
					ids := make([]int32, sh.n*sh.k)
					refIDs := make([]int, len(ids))
					for i := range ids {
						switch c.routing {
						case "random":
							ids[i] = int32(r.IntN(sh.e))
						case "skip1":
							ids[i] = int32([]int{0, 2, 3}[r.IntN(3)] % sh.e)
						case "one":
							ids[i] = int32(sh.e - 1)
						case "perm":
							ids[i] = int32((i%sh.k + i/sh.k) % sh.e)
						}
						refIDs[i] = int(ids[i])
					}
					it, err := b.FromInt32(ids, sh.n, sh.k)
					require.NoError(t, err)
					for _, backward := range []bool{false, true} {
						for _, shared := range []bool{false, true} {
							din := sh.in
							if backward {
								din = sh.out
							}
							xShape, rows := []int{sh.n, sh.k, din}, sh.n*sh.k
							if shared {
								xShape, rows = []int{sh.n, din}, sh.n
							}
							xd := randoms(r, rows*din)
							y, err := b.ExpertLinear(upload(t, b, xd, xShape...), ws, it, backend.ExpertOptions{Backward: backward})
							require.NoError(t, err, "backward %v shared %v", backward, shared)
							want, err := ref.ExpertLinear(ref.T{Shape: xShape, Data: widen(xd)}, wr, refIDs, sh.k, backward)
							require.NoError(t, err)
							t.Run(fmt.Sprintf("backward %v shared %v", backward, shared), func(t *testing.T) {
								requireClose(t, want.Data, values(t, b, y), din)
							})
							b.Free(y)
						}
					}
				})
			}
		})
	}
}

// TestExpertKernelEnvRefusesUnknownValues checks that a misspelt
// ExpertKernelEnv fails Open, naming the variable, rather than silently
// measuring the default.
func TestExpertKernelEnvRefusesUnknownValues(t *testing.T) {
	for _, bad := range []string{"tile", "fast", "simple,dot"} {
		t.Setenv(webgpu.ExpertKernelEnv, bad)
		_, err := webgpu.Open(t.Context(), "gpu:0")
		require.ErrorContains(t, err, webgpu.ExpertKernelEnv, bad)
	}
}
