package train

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/quant"
)

// Options configures Run. Zero numeric fields take DefaultOptions' values,
// except WeightDecay, MaxGradNorm, WarmupSteps, WarmupRatio, EvalFraction,
// EvalEvery, CheckpointEvery and Seed, whose zero means what it says
// (none, off, seed 0).
type Options struct {
	// ModelDir holds the base model (config.json, safetensors) and its
	// tokenizer.json.
	ModelDir string
	// Adapter configures the (IA)³ adapter; nil means PEFT's defaults for
	// the model type. An empty TaskType is taken from the model.
	Adapter *ia3.Config
	// TrainFile is the training data, JSONL: {"text"} or
	// {"prompt","completion"} (loss on the completion only) for causal
	// LMs, {"input","target"} for seq2seq, {"text","label"} for
	// classification (a number for regression heads). A line giving both
	// "text" and "prompt"/"completion" is refused, a UTF-8 byte order mark
	// at the start is skipped, and a line may hold MaxLineBytes.
	TrainFile string
	// EvalFile is held-out data in the same format; EvalFraction instead
	// holds out that fraction of TrainFile (chosen with Seed). Examples of
	// EvalFile without a token to predict are skipped and counted
	// (Metrics.Skipped); in TrainFile they are an error.
	EvalFile     string
	EvalFraction float64
	// EvalEvery evaluates every that many steps (and after the last step);
	// 0 evaluates only after the last step when there is eval data.
	EvalEvery int
	// OutDir receives the adapter (PEFT's layout), loss.png and
	// checkpoint-<step> directories. An adapter already there is replaced
	// when the run ends, in one step (a failed save leaves it whole and
	// writes a checkpoint of the last step instead).
	OutDir string

	// Device is the backend spec for backend.Open ("auto", "cpu", "gpu:0");
	// Backend, when set, is used instead (and not closed).
	Device  string
	Backend backend.Backend
	// Quantize keeps the base model's block weights quantized (quant.Q8_0
	// for --quantize int8, quant.NF4 for nf4; see model.LoadOptions): the
	// (IA)³ vectors train in float32 as on a float base, gradients flowing
	// through the quantized layers.
	Quantize quant.Format

	// Epochs over the training data, unless MaxSteps > 0 sets the number of
	// optimiser steps.
	Epochs   int
	MaxSteps int
	// BatchSize examples per micro-batch; GradAccum micro-batches per
	// optimiser step (gradients averaged).
	BatchSize int
	GradAccum int
	// MaxLength truncates every sequence to this many tokens.
	MaxLength int

	// LR is the peak learning rate of Schedule (see Schedules), reached
	// after WarmupSteps (or WarmupRatio of the steps when WarmupSteps is 0).
	LR          float64
	Schedule    string
	WarmupSteps int
	WarmupRatio float64
	// Optim holds AdamW's betas, eps and weight decay.
	Optim AdamW
	// MaxGradNorm clips gradients by global norm, as torch's
	// clip_grad_norm_; 0 disables clipping.
	MaxGradNorm float64
	// Seed fixes the data order and the eval split: a run is repeatable.
	Seed uint64

	// Recipe selects a training recipe: "" (plain cross-entropy) or
	// RecipeTFew, which trains on multiple-choice data ({"input",
	// "choices", "label"} lines) with T-Few's losses weighted by
	// TFewWeights (zero: tfew.DefaultWeights) and evaluates by rank
	// classification (see TFewOptions for the paper's other settings).
	Recipe      string
	TFewWeights tfew.Weights

	// Mixed, when set instead of TrainFile, trains several adapters in one
	// run: each AdapterData's file trains the adapter of that name, the
	// micro-batches mix their examples, and each row updates only its own
	// adapter's vectors (MixedLoss: a mixed step equals the separate
	// single-adapter steps, as long as MaxGradNorm is 0). Every adapter is
	// saved in OutDir/<name>. Evaluation, resuming and recipes are not
	// supported in a mixed run yet.
	Mixed []AdapterData

	// CheckpointEvery saves a checkpoint every that many steps (0: none,
	// except when the run is interrupted). ResumeFrom continues from one:
	// the adapter configuration then comes from the checkpoint (Adapter is
	// ignored), and the data, seed, batch size, accumulation, step count
	// and schedule must be those of the interrupted run.
	CheckpointEvery int
	ResumeFrom      string

	// Progress receives a progress bar; nil, or a file that is not a
	// terminal, shows none. NoPlot skips loss.png.
	Progress io.Writer
	NoPlot   bool
	// OnStep, when set, is called after every optimiser step.
	OnStep func(StepInfo)
	// Logger receives progress lines (slog.Default when nil).
	Logger *slog.Logger
}

// StepInfo describes one finished optimiser step.
type StepInfo struct {
	Step       int // 1-based
	TotalSteps int
	Loss       float64
	LR         float64
	GradNorm   float64 // NaN when clipping is off
	Tokens     int     // real tokens in the step's batches
}

// DefaultOptions returns the defaults: 1 epoch, batch 8, no accumulation,
// 512 tokens, learning rate 3e-3 (the (IA)³ paper's), constant schedule,
// torch's AdamW with weight decay 0, no clipping, device "auto".
func DefaultOptions() Options {
	a := DefaultAdamW()
	a.WeightDecay = 0
	return Options{Device: "auto", Epochs: 1, BatchSize: 8, GradAccum: 1, MaxLength: 512,
		LR: 3e-3, Schedule: ScheduleConstant, Optim: a}
}

// withDefaults fills zero fields from DefaultOptions and validates.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.Device == "" {
		o.Device = d.Device
	}
	if o.Epochs == 0 {
		o.Epochs = d.Epochs
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.GradAccum == 0 {
		o.GradAccum = d.GradAccum
	}
	if o.MaxLength == 0 {
		o.MaxLength = d.MaxLength
	}
	if o.LR == 0 {
		o.LR = d.LR
	}
	if o.Schedule == "" {
		o.Schedule = d.Schedule
	}
	if o.Optim.Beta1 == 0 && o.Optim.Beta2 == 0 && o.Optim.Eps == 0 {
		o.Optim.Beta1, o.Optim.Beta2, o.Optim.Eps = d.Optim.Beta1, d.Optim.Beta2, d.Optim.Eps
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Recipe == RecipeTFew && o.TFewWeights == (tfew.Weights{}) {
		o.TFewWeights = tfew.DefaultWeights()
	}
	return o, o.validate()
}

func (o Options) validate() error {
	switch {
	case o.ModelDir == "":
		return errors.New("train: no model directory")
	case len(o.Mixed) > 0:
		if err := o.validateMixed(); err != nil {
			return err
		}
	case o.TrainFile == "":
		return errors.New("train: no training data file")
	case o.OutDir == "":
		return errors.New("train: no output directory")
	case o.Epochs < 0, o.MaxSteps < 0, o.BatchSize < 0, o.GradAccum < 0, o.MaxLength < 0:
		return fmt.Errorf("train: epochs %d, max steps %d, batch size %d, grad accumulation %d and max length %d must not be negative",
			o.Epochs, o.MaxSteps, o.BatchSize, o.GradAccum, o.MaxLength)
	case o.MaxLength < 2:
		return fmt.Errorf("train: max length %d must be at least 2", o.MaxLength)
	case o.EvalFile != "" && o.EvalFraction != 0:
		return errors.New("train: give an eval file or an eval fraction, not both")
	case o.EvalEvery > 0 && o.EvalFile == "" && o.EvalFraction == 0:
		return fmt.Errorf("train: eval interval %d given without eval data (an eval file or fraction)", o.EvalEvery)
	case !(o.EvalFraction >= 0 && o.EvalFraction < 1):
		return fmt.Errorf("train: eval fraction %g must be in [0, 1)", o.EvalFraction)
	case o.EvalEvery < 0, o.CheckpointEvery < 0, o.WarmupSteps < 0:
		return fmt.Errorf("train: eval interval %d, checkpoint interval %d and warmup steps %d must not be negative",
			o.EvalEvery, o.CheckpointEvery, o.WarmupSteps)
	case !(o.WarmupRatio >= 0 && o.WarmupRatio <= 1):
		return fmt.Errorf("train: warmup ratio %g must be in [0, 1]", o.WarmupRatio)
	case !(o.MaxGradNorm >= 0) || math.IsInf(o.MaxGradNorm, 0):
		return fmt.Errorf("train: max grad norm %g must be non-negative and finite", o.MaxGradNorm)
	case o.Recipe != "" && o.Recipe != RecipeTFew:
		return fmt.Errorf("train: unknown recipe %q (recipes: %s)", o.Recipe, RecipeTFew)
	case o.Recipe == RecipeTFew:
		if err := o.TFewWeights.Validate(); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	return o.Optim.validate()
}

// warmup returns the warmup steps for a run of total steps, as
// transformers' get_warmup_steps: WarmupSteps, else ceil(ratio·total).
func (o Options) warmup(total int) int {
	if o.WarmupSteps > 0 {
		return o.WarmupSteps
	}
	return int(math.Ceil(o.WarmupRatio * float64(total)))
}
