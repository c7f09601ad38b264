package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/model"
)

// planFlags are inspect's --plan flags: the run whose memory plan to print.
type planFlags struct {
	on                bool
	batch, seq, newTk int
	train             bool
}

func (p *planFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&p.on, "plan", false, "also print the memory plan of a run: weights, activations, KV cache and optimiser state in bytes")
	fl.IntVar(&p.batch, "batch", 1, "with --plan: sequences per step")
	fl.IntVar(&p.seq, "seq", 512, "with --plan: tokens per sequence (a generation's prompt)")
	fl.BoolVar(&p.train, "train", false, "with --plan: a training step, counting the adapter's trainable parameters")
	fl.IntVar(&p.newTk, "new-tokens", 0, "with --plan: a generation of this many tokens after the prompt (KV cache)")
}

// planReport is the memory plan in `ia3 inspect --plan --json`, in bytes.
type planReport struct {
	Batch       int     `json:"batch"`
	Seq         int     `json:"seq"`
	Training    bool    `json:"training"`
	NewTokens   int     `json:"new_tokens"`
	Weights     float64 `json:"weights_bytes"`
	Activations float64 `json:"activations_bytes"`
	KVCache     float64 `json:"kv_cache_bytes"`
	Optimizer   float64 `json:"optimizer_bytes"`
	Total       float64 `json:"total_bytes"`
	text        string
}

// plan returns the memory plan of the flags' run of the model in
// modelDir, with trainable parameters counted for training and the
// weights' sizes from the checkpoint's header when there is one; nil
// without --plan.
func (p *planFlags) plan(modelDir string, trainable int64) (*planReport, error) {
	if !p.on {
		return nil, nil
	}
	if p.batch <= 0 || p.seq <= 0 || p.newTk < 0 {
		return nil, usagef("--batch and --seq must be positive, --new-tokens not negative")
	}
	mc, err := model.LoadConfig(modelDir)
	if err != nil {
		return nil, err
	}
	o := model.PlanOptions{Batch: p.batch, Seq: p.seq, Training: p.train, NewTokens: p.newTk,
		WeightBytes: storedWeightBytes(modelDir)}
	if p.train {
		o.Trainable = float64(trainable)
	}
	mp := mc.PlanMemory(o)
	return &planReport{Batch: p.batch, Seq: p.seq, Training: p.train, NewTokens: p.newTk, Weights: mp.Weights,
		Activations: mp.Activations, KVCache: mp.KVCache, Optimizer: mp.Optimizer, Total: mp.Total(),
		text: mp.Breakdown(formatBytes)}, nil
}

// write prints the plan under a heading naming the run.
func (r *planReport) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "memory plan of %s of %d × %d tokens (a lower bound):\n%s",
		runWhat(r.Training, r.NewTokens), r.Batch, r.Seq, r.text)
	return err
}
