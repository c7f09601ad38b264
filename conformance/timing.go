package conformance

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ia3/ia3/backend"
)

// KernelTiming is the measured time of one of the main kernels of a train
// step on one device, for the shareable report: not a benchmark (few runs,
// small shapes that also finish under emulation), but enough to tell a
// device's order of magnitude.
type KernelTiming struct {
	Device string // the device's spec
	Kernel string // the backend method
	Shape  string
	Runs   int
	// MedianMS is the median wall time of one call followed by Sync, in
	// milliseconds; GFLOPS is the rate it implies (0 where no FLOP count
	// is stated).
	MedianMS float64
	GFLOPS   float64
}

// timedKernel is one kernel to time: its inputs and a call.
type timedKernel struct {
	kernel, shape string
	flops         float64
	inputs        []input
	call          callFn
}

// timedKernels are the kernels a train step spends its time in, on shapes
// of GPT-2 small cut to a 128-token sequence.
func timedKernels() []timedKernel {
	g := newGen("timing", "")
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(g.rng.NormFloat64())
		}
		return v
	}
	f32 := func(shape ...int) input { return input{dtype: backend.F32, shape: shape, f32: vals(numel(shape))} }
	labels := make([]int32, 128)
	for i := range labels {
		labels[i] = int32(g.rng.IntN(8192))
	}
	return []timedKernel{
		{"MatMul", "[512,512]·[512,512]", 2 * 512 * 512 * 512,
			[]input{f32(512, 512), f32(512, 512)},
			func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.MatMul(in[0], in[1], backend.MatMulOptions{}))
			}},
		{"Linear", "x[128,768]·W[3072,768]ᵀ, out scale", 2 * 128 * 768 * 3072,
			[]input{f32(128, 768), f32(3072, 768), f32(3072)},
			func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Linear(in[0], in[1], backend.LinearOptions{OutScale: in[2]}))
			}},
		{"Softmax", "[1,12,128,128] causal", 0,
			[]input{f32(1, 12, 128, 128)},
			func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Softmax(in[0], backend.SoftmaxOptions{Scale: 0.125, Causal: true}))
			}},
		{"LayerNorm", "[128,768]", 0,
			[]input{f32(128, 768), f32(768), f32(768)},
			func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.LayerNorm(in[0], in[1], in[2], 1e-5))
			}},
		{"CrossEntropy", "logits[128,8192]", 0,
			[]input{f32(128, 8192), {dtype: backend.I32, shape: []int{128}, i32: labels}},
			func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				loss, dlogits, err := b.CrossEntropy(in[0], in[1], -100)
				if err != nil {
					return nil, err
				}
				return []backend.Tensor{loss, dlogits}, nil
			}},
	}
}

// timingRuns is how many timed calls each kernel gets, after one warm-up.
const timingRuns = 5

// timeKernels times each of timedKernels on b.
func timeKernels(ctx context.Context, b backend.Backend) ([]KernelTiming, error) {
	var out []KernelTiming
	for _, k := range timedKernels() {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		t, err := timeKernel(b, k)
		if err != nil {
			return out, fmt.Errorf("conformance: timing %s %s on %s: %w", k.kernel, k.shape, b.Info().Spec, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// timeKernel uploads k's inputs and times timingRuns calls after a
// warm-up, each followed by Sync.
func timeKernel(b backend.Backend, k timedKernel) (KernelTiming, error) {
	res := KernelTiming{Device: b.Info().Spec, Kernel: k.kernel, Shape: k.shape, Runs: timingRuns}
	in := make([]backend.Tensor, 0, len(k.inputs))
	defer func() {
		for _, t := range in {
			b.Free(t)
		}
	}()
	for i, x := range k.inputs {
		t, err := upload(b, x)
		if err != nil {
			return res, fmt.Errorf("upload input %d: %w", i, err)
		}
		in = append(in, t)
	}
	if err := b.Sync(); err != nil {
		return res, err
	}
	times := make([]float64, 0, timingRuns)
	for i := range timingRuns + 1 {
		start := time.Now()
		outs, err := k.call(b, in)
		if err == nil {
			err = b.Sync()
		}
		elapsed := time.Since(start)
		for _, t := range outs {
			if t != nil {
				b.Free(t)
			}
		}
		if err != nil {
			return res, err
		}
		if i > 0 {
			times = append(times, float64(elapsed)/float64(time.Millisecond))
		}
	}
	slices.Sort(times)
	res.MedianMS = times[len(times)/2]
	if k.flops > 0 && res.MedianMS > 0 {
		res.GFLOPS = k.flops / (res.MedianMS * 1e6)
	}
	return res, nil
}
