package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
)

// evalFlags are the flags of `ia3 eval`.
type evalFlags struct {
	model, adapter, data, device string
	quantize                     string
	batch, maxLen                int
	asJSON                       bool
}

// evalJSON is `ia3 eval --json`.
type evalJSON struct {
	Loss     float64  `json:"loss"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	Examples int      `json:"examples"`
	Tokens   int      `json:"tokens"`
	// Skipped counts examples left out for having no token to predict.
	Skipped int `json:"skipped"`
}

// newEvalCmd builds `ia3 eval`.
func newEvalCmd(a *app) *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Compute the loss (and accuracy) of a model with an adapter on a JSONL file",
		Long: `Evaluate a model, with an adapter or without, on a JSONL file in the format
ia3 train reads: the mean loss over every counted token (language models) or
example (classification), and the accuracy for classification. Compare a
trained adapter with the base model by running it with and without
--adapter.`,
		Example: `  ia3 eval --model ./gpt2 --data eval.jsonl
  ia3 eval --model ./gpt2 --adapter my-adapter --data eval.jsonl --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model", "data"); err != nil {
				return err
			}
			return runEval(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "base model directory (config.json, safetensors, tokenizer.json) or Hub id org/name[@revision]")
	fl.StringVar(&f.adapter, "adapter", "", "PEFT adapter directory or Hub id to apply (default: the base model alone)")
	fl.StringVar(&f.data, "data", "", "data to evaluate on, JSONL")
	fl.IntVar(&f.batch, "batch-size", 8, "examples per batch")
	fl.IntVar(&f.maxLen, "max-len", 512, "truncate examples to this many tokens")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	addDeviceFlag(cmd, &f.device)
	addQuantizeFlag(cmd, &f.quantize)
	addMemoryLimitFlag(cmd)
	return cmd
}

// runEval evaluates the model (with --adapter) on --data and prints the
// metrics.
func runEval(cmd *cobra.Command, a *app, f *evalFlags) error {
	if f.batch <= 0 || f.maxLen < 2 {
		return usagef("--batch-size must be positive and --max-len at least 2")
	}
	if err := checkDeviceSpec(f.device); err != nil {
		return err
	}
	q, err := quantizeFormat(f.quantize)
	if err != nil {
		return err
	}
	if err := a.resolveModelAdapter(cmd.Context(), &f.model, &f.adapter); err != nil {
		return err
	}
	if err := mustExist(filepath.Join(f.model, "config.json"), "model config"); err != nil {
		return err
	}
	if err := mustExist(f.data, "data file"); err != nil {
		return err
	}
	if f.adapter != "" {
		if err := mustExist(filepath.Join(f.adapter, ia3.ConfigFile), "adapter config"); err != nil {
			return err
		}
	}
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	b, err := openFittingDevice(cmd.Context(), f.device, f.model, runShape{Batch: f.batch, Seq: f.maxLen,
		BatchFlag: "--batch-size", SeqFlag: "--max-len", MemoryLimit: lim, ProjBytesPerWeight: model.ProjBytesPerWeight(q)})
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := train.Evaluate(cmd.Context(), train.EvalOptions{ModelDir: f.model, AdapterDir: f.adapter, DataFile: f.data,
		BatchSize: f.batch, MaxLength: f.maxLen, Device: f.device, Backend: b, Quantize: q})
	if err != nil {
		return err
	}
	out := evalJSON{Loss: m.Loss, Examples: m.Examples, Tokens: m.Tokens, Skipped: m.Skipped}
	if m.HasAccuracy {
		out.Accuracy = &m.Accuracy
	}
	if m.Skipped > 0 {
		fmt.Fprintf(a.stderr, "skipped %d examples with no token to predict (one token, or a completion or target truncated away by --max-len)\n", m.Skipped)
	}
	if f.asJSON {
		return json.NewEncoder(a.stdout).Encode(out)
	}
	fmt.Fprintf(a.stdout, "loss %.4f on %d examples (%d tokens)", m.Loss, m.Examples, m.Tokens)
	if out.Accuracy != nil {
		fmt.Fprintf(a.stdout, ", accuracy %.4f", *out.Accuracy)
	}
	fmt.Fprintln(a.stdout)
	return nil
}
