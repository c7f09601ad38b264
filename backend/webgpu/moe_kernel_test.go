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
	"github.com/ia3/ia3/quant"
)

// expertKernels are the ExpertKernelEnv settings the tests run: every
// kernel forced, and the auto choice.
var expertKernels = []string{"simple", "dot", "tiled", "tiled128", "auto"}

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
		{"one expert, 128-tiles", backend.F32, shape{150, 2, 3, 140, 40}, "one"},
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

// BenchmarkExpertLinear times ExpertLinear under each kernel
// (ExpertKernelEnv) at a decode shape (one token, k = 2 of 8 experts) and
// prefill shapes (256 tokens, k = 2 of 8 experts, ids drawn uniformly, as a
// balanced router gives), F32 weights [out, in] unless named, x one row per
// slot; "bwd" is the backward product of the forward shape. GFLOP/s counts
// 2·N·k·in·out. expert_dot runs only the decode forward (its workgroup per
// output is not meant for hundreds of slots). "linear" is the bound the
// experts aim at: the same N·k rows through one weight by Linear (the
// backward by MatMul), with the tiled matmul kernel and no routing.
func BenchmarkExpertLinear(bm *testing.B) {
	const experts, k = 8, 2
	shapes := []struct {
		name     string
		n        int
		in, out  int
		dt       backend.DType
		backward bool
	}{
		{"decode_1x2_1024x2048", 1, 1024, 2048, backend.F32, false},
		{"decode_1x2_1024x2048_q8", 1, 1024, 2048, backend.Q8_0, false},
		{"prefill_256x2_256x512", 256, 256, 512, backend.F32, false},
		{"prefill_256x2_512x1024", 256, 512, 1024, backend.F32, false},
		{"prefill_256x2_1024x2048", 256, 1024, 2048, backend.F32, false},
		{"prefill_256x2_1024x2048_bwd", 256, 1024, 2048, backend.F32, true},
		{"prefill_256x2_1024x2048_q8", 256, 1024, 2048, backend.Q8_0, false},
	}
	for _, kernel := range []string{"simple", "dot", "tiled", "tiled128", "linear"} {
		bm.Run(kernel, func(bm *testing.B) {
			setting := kernel
			if kernel == "linear" {
				setting = "auto"
			}
			b := openExpertKernel(bm, setting)
			for _, s := range shapes {
				if kernel == "dot" && (s.n > 1 || s.backward) || kernel == "linear" && s.n == 1 {
					continue
				}
				bm.Run(s.name, func(bm *testing.B) {
					r := rand.New(rand.NewPCG(51, 52))
					ws := make([]backend.Tensor, experts)
					for e := range ws {
						var err error
						if s.dt == backend.F32 {
							ws[e], err = b.FromFloat32(randoms(r, s.out*s.in), s.out, s.in)
						} else {
							ws[e], err = uploadQuantB(b, s.dt, quantWeights(r, s.out, s.in), s.out, s.in)
						}
						require.NoError(bm, err)
					}
					ids := make([]int32, s.n*k)
					for i := range ids {
						ids[i] = int32(r.IntN(experts))
					}
					it, err := b.FromInt32(ids, s.n, k)
					require.NoError(bm, err)
					din := s.in
					if s.backward {
						din = s.out
					}
					x, err := b.FromFloat32(randoms(r, s.n*k*din), s.n, k, din)
					require.NoError(bm, err)
					o := backend.ExpertOptions{Backward: s.backward}
					run := func() (backend.Tensor, error) { return b.ExpertLinear(x, ws, it, o) }
					if kernel == "linear" {
						rows, err := b.View(x, s.n*k, din)
						require.NoError(bm, err)
						run = func() (backend.Tensor, error) {
							if s.backward {
								return b.MatMul(rows, ws[0], backend.MatMulOptions{})
							}
							return b.Linear(rows, ws[0], backend.LinearOptions{})
						}
					}
					// One untimed call first: creating the pipelines is not product time.
					y, err := run()
					require.NoError(bm, err)
					b.Free(y)
					require.NoError(bm, b.Sync())
					bm.ResetTimer()
					for bm.Loop() {
						y, err := run()
						if err != nil {
							bm.Fatal(err)
						}
						if err := b.Sync(); err != nil {
							bm.Fatal(err)
						}
						b.Free(y)
					}
					bm.ReportMetric(2*float64(s.n*k)*float64(s.in)*float64(s.out)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
					for _, t := range append(ws, x, it) {
						b.Free(t)
					}
				})
			}
		})
	}
}

// uploadQuantB quantizes w [rows, cols] as dt and uploads it (benchmarks:
// no reference values needed).
func uploadQuantB(b backend.Backend, dt backend.DType, w []float32, rows, cols int) (backend.Tensor, error) {
	data, err := quant.Quantize(dt.QuantFormat(), w, rows, cols)
	if err != nil {
		return nil, err
	}
	return b.FromBytes(dt, data, rows, cols)
}

// TestExpertLinearTiledDeterministic checks that the tiled kernels give the
// same bits on every run: expert_route's atomics may list an expert's slots
// in any order, which must change no output.
func TestExpertLinearTiledDeterministic(t *testing.T) {
	for _, kernel := range []string{"tiled", "tiled128"} {
		t.Run(kernel, func(t *testing.T) {
			b := openExpertKernel(t, kernel)
			r := rand.New(rand.NewPCG(61, 62))
			const n, k, e, out, in = 300, 2, 3, 40, 50
			ws := make([]backend.Tensor, e)
			for i := range ws {
				ws[i] = upload(t, b, randoms(r, out*in), out, in)
			}
			ids := make([]int32, n*k)
			for i := range ids {
				ids[i] = int32(r.IntN(e))
			}
			it, err := b.FromInt32(ids, n, k)
			require.NoError(t, err)
			x := upload(t, b, randoms(r, n*in), n, in)
			var first []uint32
			for run := range 4 {
				y, err := b.ExpertLinear(x, ws, it, backend.ExpertOptions{})
				require.NoError(t, err)
				got := bits(values(t, b, y))
				b.Free(y)
				if run == 0 {
					first = got
					continue
				}
				require.Equal(t, first, got, "run %d", run)
			}
		})
	}
}
