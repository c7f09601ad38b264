package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
)

// trainFlags are the flags of `ia3 train`.
type trainFlags struct {
	model, data, evalData, out, device, schedule, resume string
	quantize                                             string
	lr, clip, weightDecay, warmupRatio, evalFraction     float64
	epochs, steps, batch, maxLen, gradAccum, warmup      int
	saveEvery, evalEvery                                 int
	seed                                                 uint64
	asJSON, noPlot                                       bool
	adapter                                              adapterFlags
	recipe                                               string
	adapterData                                          []string
	lmWeight, ulWeight, lnWeight                         float64
}

// newTrainCmd builds `ia3 train`.
func newTrainCmd(a *app) *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train an IA3 adapter (with no flags: the built-in demo)",
		Long: `Train an (IA)³ adapter on a JSONL file and save it in PEFT's layout
(adapter_config.json + adapter_model.safetensors) in --out, with a loss curve
(loss.png) and, with --save-every, checkpoints to resume from.

Data, one JSON object per line: {"text": ...} or {"prompt": ...,
"completion": ...} (loss on the completion only) for causal language models,
{"input": ..., "target": ...} for T5, {"text": ..., "label": ...} for
classification. The model directory needs tokenizer.json, or a SentencePiece
model (spm.model, spiece.model, tokenizer.model) that is converted as
transformers converts it (DeBERTa-v2/v3, T5, mT5, ALBERT, Llama, Mistral).

Chat data for causal language models: {"messages": [{"role": "user",
"content": ...}, {"role": "assistant", "content": ...}]} (TRL's format),
rendered with the chat template of tokenizer_config.json as transformers'
apply_chat_template does, with the loss on the assistant turns only.

Without --model and --data, ia3 train runs the built-in demo: a small model
and data set embedded in the binary, to see training work end to end.

Ctrl-C (or SIGTERM, as kill and service managers send) saves a checkpoint
and exits with code 130; --resume DIR (or --resume latest) continues the
same run from it. An adapter already in --out is replaced when the run
ends; until then it, and the checkpoints, stay as they were.

--recipe t-few trains with the recipe of the (IA)³ paper (T-Few, Liu et al.
2022) on multiple-choice data, {"input": ..., "choices": [...], "label": i}
per line (T5: the input is the encoder's, each choice a decoder target;
causal LMs: input and choice concatenated, the loss on the choice): the
cross-entropy of the correct choice, the unlikelihood loss on the incorrect
choices and the length-normalised loss over choices, weighted by
--lm-weight, --ul-weight and --ln-weight (1 each, as the paper). It also sets
the paper's defaults for flags not given: 1000 steps, batch size 8, learning
rate 3e-3, linear schedule with 6% warmup, gradient clipping at 1 (AdamW, not
the paper's Adafactor: (IA)³'s few vectors train as well without it).
Evaluation then reports rank-classification accuracy.

--adapter-data NAME=FILE (repeated, instead of --data) trains several
adapters in one run: micro-batches mix the files' examples, each row updates
only its own adapter's vectors, and each adapter is saved in --out/NAME
(multi-task training in one pass; no evaluation or --resume in such a run
yet).

A JSONL line may hold up to 128 MiB; a UTF-8 byte order mark at the start
of the file is skipped. Only the first --max-len tokens of an example are
kept, and only that much of its text is tokenised (a chat line is
rendered and tokenised whole).`,
		Example: `  ia3 train --steps 50 --out demo-adapter
  ia3 train --model Qwen/Qwen2.5-0.5B --data train.jsonl --out my-adapter
  ia3 train --model ./gpt2 --data train.jsonl --eval-data eval.jsonl --out my-adapter \
      --epochs 3 --lr 3e-3 --schedule cosine --warmup 20 --batch-size 8 --device gpu
  ia3 train --model ./llama --data train.jsonl --target-modules k_proj,v_proj,down_proj \
      --feedforward-modules down_proj --steps 500 --save-every 100 --out ad
  ia3 train --model ./llama --data train.jsonl --steps 500 --out ad --resume latest
  ia3 train --model ./Qwen2.5-0.5B-Instruct --data chat.jsonl --out chat-adapter
  ia3 train --recipe t-few --model ./t0 --data choices.jsonl --eval-data dev.jsonl --out ad
  ia3 train --model ./gpt2 --adapter-data poems=poems.jsonl --adapter-data code=code.jsonl --out ads`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrain(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "base model directory (config.json, safetensors, tokenizer.json), a llama.cpp .gguf file, or Hub id org/name[@revision]")
	fl.StringVar(&f.data, "data", "", "training data, JSONL")
	fl.StringVar(&f.evalData, "eval-data", "", "held-out data, JSONL, evaluated after training (and every --eval-every steps)")
	fl.Float64Var(&f.evalFraction, "eval-fraction", 0, "hold out this fraction of --data for evaluation instead of --eval-data")
	fl.IntVar(&f.evalEvery, "eval-every", 0, "evaluate every N steps (0: after the last step only)")
	fl.StringVar(&f.out, "out", "", "directory for the adapter, loss.png and checkpoints (the demo's default: "+demoOut+")")
	fl.Float64Var(&f.lr, "lr", 3e-3, "peak learning rate")
	fl.StringVar(&f.schedule, "schedule", train.ScheduleConstant, "learning-rate schedule: "+strings.Join(train.Schedules(), ", "))
	fl.IntVar(&f.warmup, "warmup", 0, "warmup steps")
	fl.Float64Var(&f.warmupRatio, "warmup-ratio", 0, "warmup as a fraction of the steps (when --warmup is 0)")
	fl.IntVar(&f.epochs, "epochs", 1, "passes over the data (unless --steps is set)")
	fl.IntVar(&f.steps, "steps", 0, fmt.Sprintf("optimiser steps (overrides --epochs; the demo's default: %d)", train.DemoSteps))
	fl.IntVar(&f.batch, "batch-size", 8, "examples per micro-batch")
	fl.IntVar(&f.gradAccum, "grad-accum", 1, "micro-batches per optimiser step")
	fl.IntVar(&f.maxLen, "max-len", 512, "truncate examples to this many tokens")
	fl.Float64Var(&f.clip, "clip", 0, "clip gradients to this global norm (0: off)")
	fl.Float64Var(&f.weightDecay, "weight-decay", 0, "AdamW decoupled weight decay")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the data order and eval split")
	fl.IntVar(&f.saveEvery, "save-every", 0, "save a checkpoint every N steps (0: only when interrupted)")
	fl.StringVar(&f.resume, "resume", "", `checkpoint directory to continue from, or "latest" (the newest under --out)`)
	fl.BoolVar(&f.noPlot, "no-plot", false, "do not write loss.png")
	fl.BoolVar(&f.asJSON, "json", false, "print the run's result as JSON")
	fl.StringArrayVar(&f.adapterData, "adapter-data", nil, "NAME=FILE: train adapter NAME on FILE, several adapters in one mixed-batch run (repeatable, instead of --data; saved in --out/NAME)")
	fl.StringVar(&f.recipe, "recipe", "", `training recipe: "t-few" (multiple-choice data, T-Few's losses and defaults)`)
	fl.Float64Var(&f.lmWeight, "lm-weight", 1, "t-few: weight of the cross-entropy of the correct choice")
	fl.Float64Var(&f.ulWeight, "ul-weight", 1, "t-few: weight of the unlikelihood loss on the incorrect choices")
	fl.Float64Var(&f.lnWeight, "ln-weight", 1, "t-few: weight of the length-normalised loss over choices")
	f.adapter.add(cmd)
	addDeviceFlag(cmd, &f.device)
	addQuantizeFlag(cmd, &f.quantize)
	addMemoryLimitFlag(cmd)
	return cmd
}

// runTrain runs the demo without --model/--data, else train.Run with the
// flags, and prints the result.
func runTrain(cmd *cobra.Command, a *app, f *trainFlags) error {
	if f.data != "" && len(f.adapterData) > 0 {
		return usagef("give --data or --adapter-data, not both")
	}
	if (f.model == "") != (f.data == "" && len(f.adapterData) == 0) {
		return usagef("give both --model and --data, or neither for the built-in demo")
	}
	if f.steps < 0 || f.epochs <= 0 || f.batch <= 0 || f.gradAccum <= 0 || f.maxLen < 2 || f.lr <= 0 {
		return usagef("--steps must not be negative, --epochs, --batch-size, --grad-accum and --lr must be positive, --max-len at least 2")
	}
	if err := checkDeviceSpec(f.device); err != nil {
		return err
	}
	q, err := quantizeFormat(f.quantize)
	if err != nil {
		return err
	}
	ctx, stop := withTerminate(cmd.Context())
	defer stop()
	cmd.SetContext(ctx)
	if fi, err := os.Stat(f.out); err == nil && !fi.IsDir() {
		return fmt.Errorf("--out %s is a file: give a directory for the adapter (an adapter already in it is replaced)", f.out)
	}
	if f.model == "" {
		return runDemo(cmd, a, f)
	}
	opts, err := f.options(cmd, a)
	if err != nil {
		return err
	}
	if opts.Adapter, err = f.adapter.build(cmd, ""); err != nil {
		return err
	}
	if hub.IsRepoID(f.model) {
		recordHubBase(opts.Adapter, f.model)
	}
	if f.model, err = a.resolveHub(cmd.Context(), "--model", f.model, hub.Model); err != nil {
		return err
	}
	opts.ModelDir = f.model
	for _, p := range append([][2]string{{modelConfigPath(f.model), "model config"},
		{f.data, "training data"}, {f.evalData, "eval data"}}, mixedFiles(opts)...) {
		if p[0] != "" {
			if err := mustExist(p[0], p[1]); err != nil {
				return err
			}
		}
	}
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	b, err := openFittingDevice(cmd.Context(), f.device, f.model, runShape{Batch: f.batch, Seq: f.maxLen, Training: true,
		BatchFlag: "--batch-size", SeqFlag: "--max-len", MemoryLimit: lim, ProjBytesPerWeight: model.ProjBytesPerWeight(q)})
	if err != nil {
		return err
	}
	defer b.Close()
	opts.Backend, opts.Quantize = b, q
	res, err := train.Run(cmd.Context(), opts)
	if err != nil {
		return err
	}
	return writeTrainResult(a, f.asJSON, res)
}

// withTerminate returns ctx cancelled by SIGTERM too, so that a run
// stopped by kill or a service manager saves a checkpoint as Ctrl-C does.
// The first SIGTERM restores the default handling, so a second one ends
// the process at once.
func withTerminate(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// options maps the flags onto train.Options.
func (f *trainFlags) options(cmd *cobra.Command, a *app) (train.Options, error) {
	if f.out == "" {
		return train.Options{}, usagef("%s needs --out: the directory the adapter is saved to", cmd.CommandPath())
	}
	o := train.DefaultOptions()
	o.ModelDir, o.TrainFile, o.EvalFile, o.OutDir = f.model, f.data, f.evalData, f.out
	o.EvalFraction, o.EvalEvery = f.evalFraction, f.evalEvery
	o.Device = f.device
	o.Epochs, o.MaxSteps, o.BatchSize, o.GradAccum, o.MaxLength = f.epochs, f.steps, f.batch, f.gradAccum, f.maxLen
	o.LR, o.Schedule, o.WarmupSteps, o.WarmupRatio = f.lr, f.schedule, f.warmup, f.warmupRatio
	o.Optim.WeightDecay = f.weightDecay
	o.MaxGradNorm, o.Seed = f.clip, f.seed
	o.CheckpointEvery, o.NoPlot = f.saveEvery, f.noPlot
	if err := f.applyRecipe(cmd, &o); err != nil {
		return o, err
	}
	for _, v := range f.adapterData {
		name, file, ok := strings.Cut(v, "=")
		if !ok || name == "" || file == "" {
			return o, usagef("--adapter-data %q: want NAME=FILE", v)
		}
		o.Mixed = append(o.Mixed, train.AdapterData{Name: name, TrainFile: file})
	}
	if len(o.Mixed) == 1 {
		return o, usagef("--adapter-data needs at least two adapters (one adapter trains with --data)")
	}
	if f.resume != "" {
		dir := f.resume
		if f.resume == "latest" {
			var err error
			if dir, err = train.LatestCheckpoint(f.out); err != nil {
				return o, err
			}
		} else if err := mustExist(dir, "checkpoint"); err != nil {
			return o, err
		}
		o.ResumeFrom = dir
	}
	// A terminal gets train's progress bar, anything else a line per
	// stretch of steps.
	if o.Progress = terminal(a.stderr); o.Progress == nil {
		o.OnStep = stepPrinter(a.stderr)
	}
	return o, nil
}

// terminal returns w when it is a terminal (progress bars draw there),
// nil otherwise.
func terminal(w io.Writer) io.Writer {
	if fh, ok := w.(*os.File); ok && term.IsTerminal(int(fh.Fd())) {
		return w
	}
	return nil
}

// stepPrinter returns an OnStep callback printing about 20 progress lines
// per run (every step for short runs) to w.
func stepPrinter(w io.Writer) func(train.StepInfo) {
	return func(s train.StepInfo) {
		every := max(1, s.TotalSteps/20)
		if s.Step%every != 0 && s.Step != s.TotalSteps && s.Step != 1 {
			return
		}
		line := fmt.Sprintf("step %d/%d  loss %.4f  lr %.3g", s.Step, s.TotalSteps, s.Loss, s.LR)
		if !math.IsNaN(s.GradNorm) {
			line += fmt.Sprintf("  grad-norm %.3g", s.GradNorm)
		}
		fmt.Fprintln(w, line)
	}
}

// writeTrainResult prints the run's summary, or its JSON.
func writeTrainResult(a *app, asJSON bool, r *train.Result) error {
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintln(a.stdout, ia3.TrainableParametersLine(r.TrainableParams, r.AllParams))
	last := math.NaN()
	if len(r.Losses) > 0 {
		last = r.Losses[len(r.Losses)-1]
	}
	fmt.Fprintf(a.stdout, "trained %d steps on %s (%d examples, %d tokens) in %s: final loss %.4f\n",
		r.Steps, r.Device, r.TrainExamples, r.Tokens, r.Duration.Round(1e6), last)
	if n := len(r.Evals); n > 0 {
		e := r.Evals[n-1]
		line := fmt.Sprintf("eval loss %.4f on %d examples", e.Loss, e.Examples)
		if e.HasAccuracy {
			line += fmt.Sprintf(", accuracy %.4f", e.Accuracy)
		}
		if e.Skipped > 0 {
			line += fmt.Sprintf(" (%d skipped: no token to predict)", e.Skipped)
		}
		fmt.Fprintln(a.stdout, line)
	}
	fmt.Fprintf(a.stdout, "adapter saved to %s\n", r.AdapterDir)
	if r.PlotFile != "" {
		fmt.Fprintf(a.stdout, "loss curve: %s\n", r.PlotFile)
	}
	return nil
}
