package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/bench"
	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// benchFlags are the flags of `ia3 bench`.
type benchFlags struct {
	shape, config, device   string
	anchor, weights         string
	batch, seq, steps, warm int
	generate                int
	seed                    uint64
	asJSON, noTrain, noFwd  bool
	profile                 bool
	serve                   benchServeFlags
}

// newBenchCmd builds `ia3 bench`.
func newBenchCmd(a *app) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time IA3 training steps and forward passes on a model shape",
		Long: `Time (IA)³ training and inference on a model shape with random weights: the
architecture's default IA3 adapter, an AdamW step per training step, one
random batch of --batch × --seq tokens. Each phase runs --warmup untimed
repetitions, then --steps timed ones, each ending when the device has
finished (Sync); the median is reported. --generate N also times greedy
generation of N tokens after each sequence through the KV cache.

Shapes: --shape gpt2-small (124M), llama-1b (TinyLlama 1.1B), tiny-gpt2 and
tiny-llama, or --config FILE for any config.json. The JSON output uses the
field names of shared/bench/peft_anchor.py (train_step_s,
train_tokens_per_s, forward_tokens_per_s, peak_mem_gib) so both runs compare
key by key, and --anchor FILE (that script's output) prints PEFT's figures
for the same shape, batch and length beside ours. Peak memory is the bytes of
tensor storage for the CPU (what a GPU would hold for the same run), and the
device pool for a GPU backend that counts its bytes (null otherwise): the
WebGPU pool's exact peak. On WebGPU it also reports the work of one training
step and one forward pass: compute dispatches, queue submits, uploads,
readbacks and device copies (train_step_dispatches, train_step_submits,
forward_dispatches, forward_submits; null on the CPU). They do not depend on
the GPU, so a software adapter (lavapipe) measures them for any device.

--profile then runs the same steps again (after the same warm-up) with a
device Sync after every backend operation, and prints where the time of a
training step (a forward pass with --no-train) goes: each operation's calls,
total and mean milliseconds and share, Linear and MatMul by shape. The
timings above it are unaffected; the Syncs make the profiled steps slower.

--serve load-tests ia3 serve instead: it serves --model with every
--adapter on a loopback port (or drives the server at --url), sends
--requests streamed greedy completions from each of --clients concurrent
clients, cycling through the base model and the adapters (after an untimed
warm-up round), then the same requests one at a time, and reports throughput, time to first token and
latency percentiles for both and the speedup continuous batching gives.`,
		Example: `  ia3 bench --shape tiny-gpt2 --device cpu
  ia3 bench --shape gpt2-small --batch 8 --seq 512 --device gpu --json
  ia3 bench --config ./my-model/config.json --batch 4 --seq 256 --steps 5
  ia3 bench --shape gpt2-small --batch 8 --seq 512 --device gpu --steps 3 --warmup 2 --profile
  python3 peft_anchor.py anchor.json && ia3 bench --shape llama-1b --batch 4 --seq 512 --device gpu --anchor anchor.json
  ia3 bench --serve --model ./gpt2 --adapter ./a --adapter ./b --adapter ./c --clients 64 --max-tokens 16 --device cpu`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.serve.on {
				return runBenchServe(cmd, a, &f.serve, f.device, f.asJSON)
			}
			return runBench(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.shape, "shape", "gpt2-small", "named shape: "+strings.Join(bench.ShapeNames(), ", "))
	fl.StringVar(&f.config, "config", "", "a model config JSON file (any name), a directory holding config.json, or a Hub id org/name[@revision], to take the shape from instead of --shape")
	fl.IntVar(&f.batch, "batch", 8, "sequences per batch")
	fl.IntVar(&f.seq, "seq", 512, "tokens per sequence")
	fl.IntVar(&f.steps, "steps", 10, "timed repetitions per phase (the median is reported)")
	fl.IntVar(&f.warm, "warmup", 3, "untimed repetitions before timing")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the random weights and tokens")
	fl.IntVar(&f.generate, "generate", 0, "also time greedy generation of N tokens after each sequence (KV cache)")
	fl.BoolVar(&f.noTrain, "no-train", false, "skip the training phase")
	fl.BoolVar(&f.noFwd, "no-forward", false, "skip the forward phase")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.profile, "profile", false, "also profile the steps operation by operation (a Sync after each) and print the time per operation")
	fl.StringVar(&f.weights, "weights", "f32", "how the random weights are stored: f32, bf16 (Linear weights and embeddings), int8 or nf4 (the blocks' weights quantized, as --quantize)")
	fl.StringVar(&f.anchor, "anchor", "", "peft_anchor.py's JSON output (or cpu_anchor.sh's): show PyTorch's figures for the same shape, batch and length beside ours")
	addDeviceFlag(cmd, &f.device)
	addMemoryLimitFlag(cmd)
	addBenchServeFlags(cmd, &f.serve)
	return cmd
}

// runBench times the chosen shape on the chosen device and prints the
// result, beside PEFT's with --anchor.
func runBench(cmd *cobra.Command, a *app, f *benchFlags) error {
	if f.batch <= 0 || f.seq <= 0 || f.steps <= 0 || f.warm < 0 || f.generate < 0 {
		return usagef("--batch, --seq and --steps must be positive, --warmup and --generate not negative")
	}
	if f.noTrain && f.noFwd {
		return usagef("--no-train and --no-forward leave nothing to time")
	}
	weights, err := benchWeights(f.weights)
	if err != nil {
		return err
	}
	name, cfg, err := benchShape(cmd, a, f)
	if err != nil {
		return err
	}
	if f.anchor != "" {
		if !slices.Contains(bench.ShapeNamesWithAnchor(), name) {
			return usagef("--anchor compares the shapes peft_anchor.py times (%s), not %s",
				strings.Join(bench.ShapeNamesWithAnchor(), ", "), name)
		}
		if err := mustExist(f.anchor, "anchor results"); err != nil {
			return err
		}
	}
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	b, err := openDevice(cmd.Context(), f.device)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := checkRunFits(b.Info(), cfg, runShape{Batch: f.batch, Seq: f.seq, Training: !f.noTrain,
		BatchFlag: "--batch", SeqFlag: "--seq", MemoryLimit: lim, ProjBytesPerWeight: model.ProjBytesPerWeight(weights.Quantize)}); err != nil {
		return fmt.Errorf("bench %s: %w", name, err)
	}
	r, err := bench.Run(cmd.Context(), b, name, cfg, bench.Options{Batch: f.batch, Seq: f.seq, Steps: f.steps,
		Warmup: f.warm, Seed: f.seed, SkipTrain: f.noTrain, SkipForward: f.noFwd, GenerateTokens: f.generate, Weights: weights})
	if err != nil {
		return err
	}
	out := benchOutput{Result: r}
	if f.anchor != "" {
		if out.PEFT, err = bench.Compare(r, f.anchor); err != nil {
			return err
		}
	}
	if f.profile {
		p, err := bench.ProfileSteps(cmd.Context(), b, cfg, bench.Options{Batch: f.batch, Seq: f.seq, Steps: f.steps,
			Warmup: f.warm, Seed: f.seed, SkipTrain: f.noTrain, Weights: weights})
		if err != nil {
			return err
		}
		out.profile = p
		out.Profile, out.ProfilePhase, out.ProfileStepS = p.Ops.Stats(), p.Phase, p.StepS
	}
	if f.asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if err := writeBenchTable(a, out); err != nil {
		return err
	}
	return writeBenchProfile(a, out.profile)
}

// benchOutput is a result with, given --anchor, PEFT's figures beside it.
type benchOutput struct {
	*bench.Result
	PEFT *bench.Comparison `json:"peft,omitempty"`
	// With --profile: the profiled phase, the mean wall seconds of one of
	// its profiled steps (slowed by a Sync after every operation) and the
	// time per operation.
	ProfilePhase string         `json:"profile_phase,omitempty"`
	ProfileStepS float64        `json:"profile_step_s,omitempty"`
	Profile      []bench.OpStat `json:"profile,omitempty"`
	profile      *bench.PhaseProfile
}

// benchWeights parses --weights.
func benchWeights(v string) (model.RandomOptions, error) {
	switch strings.ToLower(v) {
	case "f32", "float32":
		return model.RandomOptions{}, nil
	case "bf16", "bfloat16":
		return model.RandomOptions{BF16: true}, nil
	}
	q, err := quant.ParseFormat(v)
	if err != nil || q == quant.None {
		return model.RandomOptions{}, usagef("--weights %q: want f32, bf16, int8 or nf4", v)
	}
	return model.RandomOptions{Quantize: q}, nil
}

// benchShape resolves --config (a file, a directory or a Hub id whose
// config.json alone is fetched) or --shape.
func benchShape(cmd *cobra.Command, a *app, f *benchFlags) (string, *model.Config, error) {
	if f.config == "" {
		cfg, err := bench.NamedShape(f.shape)
		if err != nil {
			return "", nil, usageError{err}
		}
		return f.shape, cfg, nil
	}
	if cmd.Flags().Changed("shape") {
		return "", nil, usagef("--shape and --config exclude each other")
	}
	path, err := a.resolveHub(cmd.Context(), "--config", f.config, hub.ModelConfig)
	if err != nil {
		return "", nil, err
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	if err := mustBeFile(path, "model config"); err != nil {
		return "", nil, err
	}
	cfg, err := model.LoadConfigFile(path)
	if err != nil {
		return "", nil, err
	}
	return f.config, cfg, nil
}

// writeBenchTable prints a result (and its comparison) as a table.
func writeBenchTable(a *app, out benchOutput) error {
	r := out.Result
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "shape\t%s (%s, %s params, %s trainable)\n", r.Shape, r.ModelType, human(r.Params), human(r.Trainable))
	fmt.Fprintf(w, "device\t%s (%s, %s)\n", r.Device, r.DeviceName, r.API)
	fmt.Fprintf(w, "batch × seq\t%d × %d, %s, median of %d after %d warm-up\n", r.Batch, r.Seq, r.DType, r.Steps, r.Warmup)
	if r.TrainStepS > 0 {
		fmt.Fprintf(w, "train step\t%.1f ms\t%.0f tokens/s\tloss %.4f → %.4f\n", 1e3*r.TrainStepS, r.TrainTokensPerS, r.FirstLoss, r.LastLoss)
	}
	if r.ForwardS > 0 {
		fmt.Fprintf(w, "forward\t%.1f ms\t%.0f tokens/s\n", 1e3*r.ForwardS, r.ForwardTokensPerS)
	}
	if r.GenerateS > 0 {
		fmt.Fprintf(w, "generate %d\t%.1f ms\t%.0f new tokens/s\n", r.GenerateTokens, 1e3*r.GenerateS, r.GenerateTokensPerS)
	}
	if r.TrainStepWork != nil {
		writeBenchWork(w, "train step work", r.TrainStepWork)
	}
	if r.ForwardWork != nil {
		writeBenchWork(w, "forward work", r.ForwardWork)
	}
	if r.PeakMemGiB != nil {
		fmt.Fprintf(w, "peak memory\t%.2f GiB, %d bytes (%s)\n", *r.PeakMemGiB, r.PeakMemBytes, r.PeakMemSource)
	} else {
		fmt.Fprintln(w, "peak memory\tnot reported by this backend")
	}
	if c := out.PEFT; c != nil {
		fmt.Fprintf(w, "anchor\t%s (%s on %s)\n", c.Anchor.Key, c.Anchor.DType, orDash(c.GPU))
		if c.TrainStepRatio > 0 {
			fmt.Fprintf(w, "  train step\t%.1f ms\t%.0f tokens/s\tours ×%.2f the time\n", 1e3*c.Anchor.TrainStepS, c.Anchor.TrainTokensPerS, c.TrainStepRatio)
		}
		if c.ForwardRatio > 0 {
			fmt.Fprintf(w, "  forward\t%.1f ms\t%.0f tokens/s\tours ×%.2f the time\n", 1e3*c.Anchor.ForwardS, c.Anchor.ForwardTokensPerS, c.ForwardRatio)
		}
		if c.Anchor.PeakMemGiB > 0 { // cpu_anchor.sh reports none
			fmt.Fprintf(w, "  peak memory\t%.2f GiB", c.Anchor.PeakMemGiB)
			if c.PeakMemRatio != nil {
				fmt.Fprintf(w, "\tours ×%.2f", *c.PeakMemRatio)
			}
			fmt.Fprintln(w)
		}
	}
	return w.Flush()
}

// writeBenchWork prints one phase's work per step: dispatches, submits and
// transfers.
func writeBenchWork(w io.Writer, label string, c *backend.WorkCounts) {
	fmt.Fprintf(w, "%s\t%d dispatches\t%d submits\t%d uploads (%d B), %d readbacks (%d B), %d device copies\n",
		label, c.Dispatches, c.Submits, c.Uploads, c.UploadBytes, c.Readbacks, c.ReadbackBytes, c.Copies)
}

// writeBenchProfile prints a --profile table under the results; nothing
// without one.
func writeBenchProfile(a *app, p *bench.PhaseProfile) error {
	if p == nil {
		return nil
	}
	fmt.Fprintf(a.stdout, "\nprofile of the %s phase over %d step(s), a device Sync after every operation (slower than the timings above):\n",
		p.Phase, p.Steps)
	total := p.Ops.Total().Seconds()
	fmt.Fprintf(a.stdout, "profiled step %.1f ms: operations %.1f ms, host time between them %.1f ms\n\n",
		1e3*p.StepS, 1e3*total/float64(p.Steps), 1e3*(p.StepS-total/float64(p.Steps)))
	return p.Ops.WriteTable(a.stdout)
}

// human renders a count with a k/M/B suffix.
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
