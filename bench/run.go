package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// Options sizes a benchmark run.
type Options struct {
	Batch, Seq int
	// Steps are the timed repetitions of each phase; the median counts.
	Steps int
	// Warmup repetitions run first, untimed (kernel compilation, pools).
	Warmup int
	// Seed fixes the random weights and tokens.
	Seed uint64
	// SkipTrain and SkipForward leave a phase out.
	SkipTrain, SkipForward bool
	// GenerateTokens, when positive, also times greedy generation of that
	// many tokens after each row of the batch (KV cache, one token per
	// step).
	GenerateTokens int
	// Weights stores the random weights as bfloat16 or with the block
	// weights quantized (model.RandomOptions); float32 by default.
	Weights model.RandomOptions
}

// WeightsName names how o stores the weights, as Result.DType reports it:
// "float32", "bfloat16", "int8" (Q8_0 blocks) or "nf4".
func WeightsName(o model.RandomOptions) string {
	switch {
	case o.Quantize == quant.Q8_0:
		return "int8"
	case o.Quantize == quant.NF4:
		return "nf4"
	case o.BF16:
		return "bfloat16"
	}
	return "float32"
}

// Result is one benchmark run. JSON names follow peft_anchor.py.
type Result struct {
	Shape      string `json:"shape"`
	ModelType  string `json:"model_type"`
	Device     string `json:"device"`
	DeviceName string `json:"device_name"`
	API        string `json:"api"`
	Params     int64  `json:"params"`
	Trainable  int64  `json:"trainable"`
	Batch      int    `json:"batch"`
	Seq        int    `json:"seq"`
	DType      string `json:"dtype"`
	Steps      int    `json:"steps"`
	Warmup     int    `json:"warmup"`
	// Median seconds per training step (forward, backward, AdamW) and per
	// inference forward pass, and the tokens per second they give.
	TrainStepS        float64 `json:"train_step_s,omitempty"`
	TrainTokensPerS   float64 `json:"train_tokens_per_s,omitempty"`
	ForwardS          float64 `json:"forward_s,omitempty"`
	ForwardTokensPerS float64 `json:"forward_tokens_per_s,omitempty"`
	// GenerateS is the median seconds to generate GenerateTokens tokens
	// for every row; GenerateTokensPerS counts new tokens of all rows.
	GenerateTokens     int     `json:"generate_tokens,omitempty"`
	GenerateS          float64 `json:"generate_s,omitempty"`
	GenerateTokensPerS float64 `json:"generate_tokens_per_s,omitempty"`
	// PeakMemGiB is nil when the backend exposes no memory figure.
	PeakMemGiB    *float64 `json:"peak_mem_gib"`
	PeakMemBytes  uint64   `json:"peak_mem_bytes,omitempty"`
	PeakMemSource string   `json:"peak_mem_source,omitempty"`
	// Losses of the timed training steps: finite, and falling as the
	// adapter trains, which shows the steps computed something.
	FirstLoss float32 `json:"first_loss,omitempty"`
	LastLoss  float32 `json:"last_loss,omitempty"`

	// Work per step, counted by backends that count it (the WebGPU
	// backend; null elsewhere) over the last timed step of each phase:
	// compute dispatches and queue submits of one training step and one
	// forward pass, and every counter in TrainStepWork / ForwardWork. They
	// do not depend on the GPU, so lavapipe measures them for any device.
	TrainStepDispatches *uint64             `json:"train_step_dispatches"`
	TrainStepSubmits    *uint64             `json:"train_step_submits"`
	ForwardDispatches   *uint64             `json:"forward_dispatches"`
	ForwardSubmits      *uint64             `json:"forward_submits"`
	TrainStepWork       *backend.WorkCounts `json:"train_step_work,omitempty"`
	ForwardWork         *backend.WorkCounts `json:"forward_work,omitempty"`
}

// Run builds the shape cfg (named name in the result) on b with random
// weights and times o.Steps training steps and forward passes after
// o.Warmup untimed ones. Every timing ends with a device Sync.
func Run(ctx context.Context, b backend.Backend, name string, cfg *model.Config, o Options) (*Result, error) {
	if o.Steps <= 0 || o.Warmup < 0 || o.GenerateTokens < 0 {
		return nil, fmt.Errorf("bench: steps %d must be positive, warmup %d and generated tokens %d not negative",
			o.Steps, o.Warmup, o.GenerateTokens)
	}
	if cfg.MaxPositions > 0 && o.GenerateTokens > 0 && o.Seq+o.GenerateTokens > cfg.MaxPositions {
		return nil, fmt.Errorf("bench: seq %d + %d generated tokens exceed the shape's %d positions",
			o.Seq, o.GenerateTokens, cfg.MaxPositions)
	}
	s, err := NewSessionWith(b, cfg, o.Batch, o.Seq, o.Seed, o.Weights)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	info := b.Info()
	r := &Result{Shape: name, ModelType: cfg.ModelType, Device: info.Spec, DeviceName: info.Name, API: info.API,
		Batch: o.Batch, Seq: o.Seq, DType: WeightsName(o.Weights), Steps: o.Steps, Warmup: o.Warmup}
	r.Params, r.Trainable = s.Params()
	tokens := float64(s.Tokens())
	if !o.SkipTrain {
		var losses []float32
		var work *backend.WorkCounts
		t, err := timeMedian(ctx, o, "train", counted(b, &work, func() error {
			l, err := s.TrainStep()
			losses = append(losses, l)
			return err
		}))
		if err != nil {
			return nil, err
		}
		r.TrainStepS, r.TrainTokensPerS = t, tokens/t
		if work != nil {
			r.TrainStepWork, r.TrainStepDispatches, r.TrainStepSubmits = work, &work.Dispatches, &work.Submits
		}
		r.FirstLoss, r.LastLoss = losses[o.Warmup], losses[len(losses)-1]
	}
	if !o.SkipForward {
		var work *backend.WorkCounts
		t, err := timeMedian(ctx, o, "forward", counted(b, &work, s.Forward))
		if err != nil {
			return nil, err
		}
		r.ForwardS, r.ForwardTokensPerS = t, tokens/t
		if work != nil {
			r.ForwardWork, r.ForwardDispatches, r.ForwardSubmits = work, &work.Dispatches, &work.Submits
		}
	}
	if n := o.GenerateTokens; n > 0 {
		t, err := timeMedian(ctx, o, "generate", func() error { return s.Generate(ctx, n) })
		if err != nil {
			return nil, err
		}
		r.GenerateTokens, r.GenerateS, r.GenerateTokensPerS = n, t, float64(n*o.Batch)/t
	}
	if peak, src := s.PeakMemory(); src != "" {
		gib := float64(peak) / (1 << 30)
		r.PeakMemGiB, r.PeakMemBytes, r.PeakMemSource = &gib, peak, src
	}
	return r, nil
}

// timeMedian runs fn o.Warmup times untimed, then o.Steps times timed, and
// returns the median seconds. fn must wait for the device before it
// returns, so each timing covers the work it queued.
func timeMedian(ctx context.Context, o Options, phase string, fn func() error) (float64, error) {
	var ts []float64
	for i := range o.Warmup + o.Steps {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := fn(); err != nil {
			return 0, fmt.Errorf("%s step %d: %w", phase, i, err)
		}
		d := time.Since(start).Seconds()
		slog.Debug("bench step", "phase", phase, "step", i, "warmup", i < o.Warmup, "s", d)
		if i >= o.Warmup {
			ts = append(ts, d)
		}
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

// counted wraps fn so that each call stores in *last the work b counted
// during it (backend.WorkCounter); *last stays nil on a backend that counts
// nothing. Reading the counters is a field copy, so timings are unaffected.
func counted(b backend.Backend, last **backend.WorkCounts, fn func() error) func() error {
	wc, ok := unwrap(b).(backend.WorkCounter)
	if !ok {
		return fn
	}
	return func() error {
		before := wc.Counters()
		err := fn()
		w := wc.Counters().Sub(before)
		*last = &w
		return err
	}
}
