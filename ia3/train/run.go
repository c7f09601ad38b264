package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/gguf"
	"github.com/ia3/ia3/model/tokenizer"
	"github.com/ia3/ia3/quant"
)

// Result is what a finished run reports.
type Result struct {
	// AdapterDir holds the trained adapter in PEFT's layout (OutDir).
	AdapterDir string
	// PlotFile is the loss curve ("" with Options.NoPlot).
	PlotFile string
	// Steps is the number of optimiser steps taken in the whole run.
	Steps int
	// Losses and LRs hold each step's mean loss and learning rate.
	Losses []float64
	LRs    []float64
	// Evals holds every evaluation.
	Evals []EvalPoint
	// Tokens is the number of real (unpadded) tokens trained on.
	Tokens int64
	// TrainExamples and EvalExamples count the two splits.
	TrainExamples, EvalExamples int
	// TrainableParams and AllParams are PEFT's counts.
	TrainableParams, AllParams int64
	// Device describes the backend used.
	Device string
	// LastCheckpoint is the newest checkpoint of the run ("" if none).
	LastCheckpoint string
	// Duration is the wall time of this call.
	Duration time.Duration
}

// Run trains an (IA)³ adapter on opts.TrainFile and saves it to
// opts.OutDir. When ctx ends the run saves a checkpoint and returns an
// *InterruptedError (errors.Is(err, ErrInterrupted)).
func Run(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkOutDir(opts.OutDir); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	b, closeB, err := openBackend(ctx, opts.Backend, opts.Device)
	if err != nil {
		return nil, err
	}
	defer closeB()
	base, enc, err := loadModel(ctx, opts.ModelDir, b, opts.Quantize)
	if err != nil {
		return nil, err
	}
	defer base.Free()
	trainSet, evalSet, err := loadData(opts, base.Config(), enc)
	if err != nil {
		return nil, err
	}
	if err := checkRecipeData(opts.Recipe, trainSet, evalSet); err != nil {
		return nil, err
	}

	var pm *ia3.Model
	var resumed trainerState
	if opts.ResumeFrom != "" {
		if resumed, err = readState(opts.ResumeFrom); err != nil {
			return nil, err
		}
		if pm, err = ia3.FromPretrained(base, opts.ResumeFrom, ia3.DefaultAdapter, true); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	} else {
		cfg := ia3.NewConfig()
		if opts.Adapter != nil {
			cfg = opts.Adapter.Clone()
		}
		if cfg.TaskType == "" {
			cfg.TaskType = base.Config().TaskType
		}
		if len(opts.Mixed) > 0 {
			pm, err = newMixedModel(base, cfg, opts.Mixed)
		} else if pm, err = ia3.New(base, cfg, ia3.DefaultAdapter); err != nil {
			err = fmt.Errorf("train: %w", err)
		}
		if err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, name := range pm.Adapters() {
			_ = pm.DeleteAdapter(name)
		}
	}()
	s, err := newSession(opts, b, base, pm, trainSet, evalSet)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if opts.ResumeFrom != "" {
		if err := s.restore(opts.ResumeFrom, resumed); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := removeStaleTmp(opts.OutDir); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	trainable, all := pm.ParamCounts()
	opts.Logger.Info("training", "model", opts.ModelDir, "device", b.Info().Name, "examples", len(trainSet.examples),
		"steps", s.total, "from_step", s.opt.Steps(), "params", ia3.TrainableParametersLine(trainable, all))

	bar := newProgress(opts.Progress, "train", s.opt.Steps(), s.total)
	err = s.loop(ctx, bar)
	bar.finish()
	if err != nil {
		return nil, err
	}
	res := &Result{AdapterDir: opts.OutDir, Steps: s.opt.Steps(), Losses: s.hist.Losses, LRs: s.hist.LRs,
		Evals: s.hist.Evals, Tokens: s.hist.Tokens, TrainExamples: len(trainSet.examples),
		TrainableParams: trainable, AllParams: all, Device: b.Info().Name, LastCheckpoint: s.lastCheckpoint}
	if evalSet != nil {
		res.EvalExamples = len(evalSet.examples)
	}
	if err := saveAdapter(pm, opts.OutDir); err != nil {
		return nil, s.finalSaveFailed(err)
	}
	if !opts.NoPlot {
		res.PlotFile = filepath.Join(opts.OutDir, PlotFile)
		if err := writeLossPlot(res.PlotFile, s.hist.Losses, s.hist.Evals); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// Resume continues the run saved in checkpoint dir with opts (which must
// describe the same run: data, seed, batch size, schedule), reaching the
// same adapter an uninterrupted run reaches.
func Resume(ctx context.Context, dir string, opts Options) (*Result, error) {
	opts.ResumeFrom = dir
	return Run(ctx, opts)
}

// openBackend returns given, or opens spec; the returned function closes
// what was opened.
func openBackend(ctx context.Context, given backend.Backend, spec string) (backend.Backend, func(), error) {
	if given != nil {
		return given, func() {}, nil
	}
	b, err := backend.Open(ctx, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("open device %q: %w", spec, err)
	}
	return b, func() { _ = b.Close() }, nil
}

// loadModel loads the base model (its block weights quantized in q unless
// q is quant.None) and its tokenizer from dir.
func loadModel(ctx context.Context, dir string, b backend.Backend, q quant.Format) (*model.Model, encoder, error) {
	tok, err := loadTokenizer(dir)
	if err != nil {
		return nil, nil, err
	}
	base, err := model.LoadWith(ctx, dir, b, model.LoadOptions{Quantize: q})
	if err != nil {
		return nil, nil, err
	}
	if t := base.Config().TaskType; t != taskCausal && t != taskSeq2Seq && t != taskSeqCls {
		base.Free()
		return nil, nil, fmt.Errorf("model %s (%s) has no head to train (task %s); use a *ForCausalLM, *ForConditionalGeneration or *ForSequenceClassification checkpoint",
			dir, base.Config().Architecture, t)
	}
	return base, withChat(newHFEncoder(tok, base.Config()), dir), nil
}

// loadTokenizer loads dir's tokenizer.json, else its SentencePiece model
// (converted as transformers converts it), or a GGUF file's tokenizer,
// saying what to do when there is none.
func loadTokenizer(dir string) (*tokenizer.Tokenizer, error) {
	if gguf.IsPath(dir) {
		return tokenizer.LoadGGUF(dir)
	}
	tok, err := tokenizer.LoadDir(dir)
	if errors.Is(err, tokenizer.ErrNoTokenizer) {
		return nil, fmt.Errorf("model directory %s has no tokenizer.json and no SentencePiece model (spm.model, spiece.model, tokenizer.model): the data is tokenised with the model's own tokenizer, save it beside the model (tokenizer.save_pretrained)", dir)
	}
	return tok, err
}

// loadEncoder is the data pipeline's encoder for dir's tokenizer.
func loadEncoder(dir string, cfg *model.Config) (encoder, error) {
	tok, err := loadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	return newHFEncoder(tok, cfg), nil
}

// loadData reads and tokenises the training data and the eval split.
func loadData(opts Options, cfg *model.Config, enc encoder) (train, eval *dataset, err error) {
	if len(opts.Mixed) > 0 {
		train, err = loadMixed(opts, cfg, enc)
		return train, nil, err
	}
	maxLen := maxLength(opts.MaxLength, cfg)
	if train, err = loadSet(opts.TrainFile, cfg, enc, maxLen, false); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	switch {
	case opts.EvalFile != "":
		if eval, err = loadSet(opts.EvalFile, cfg, enc, maxLen, true); err != nil {
			return nil, nil, fmt.Errorf("train: eval data: %w", err)
		}
		if eval.skipped > 0 {
			opts.Logger.Warn("eval data: examples without a token to predict are skipped", "file", opts.EvalFile, "skipped", eval.skipped, "kept", len(eval.examples))
		}
	case opts.EvalFraction > 0:
		if train, eval, err = train.split(opts.EvalFraction, opts.Seed); err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
	}
	return train, eval, nil
}

// maxLength caps the truncation length at the model's positions.
func maxLength(n int, cfg *model.Config) int {
	if cfg.MaxPositions > 0 && n > cfg.MaxPositions {
		return cfg.MaxPositions
	}
	return n
}

// loadSet reads and tokenises one JSONL file; with skipNoTarget (eval
// data) examples without a token to predict are skipped and counted.
func loadSet(path string, cfg *model.Config, enc encoder, maxLen int, skipNoTarget bool) (*dataset, error) {
	if isChoicesFile(path) {
		return loadChoices(path, cfg, enc, maxLen, true)
	}
	b := newBuilder(cfg.TaskType, enc, maxLen, cfg, skipNoTarget)
	if err := eachRecord(path, cfg.TaskType, MaxLineBytes, b.add); err != nil {
		return nil, err
	}
	return b.done()
}
