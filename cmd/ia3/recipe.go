package main

import (
	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/ia3/train"
)

// applyRecipe applies --recipe: for t-few, the loss weights and the paper's
// defaults (train.TFewOptions) for every flag the command line left unset.
// Weight flags without --recipe t-few are refused.
func (f *trainFlags) applyRecipe(cmd *cobra.Command, o *train.Options) error {
	fl := cmd.Flags()
	weightsGiven := fl.Changed("lm-weight") || fl.Changed("ul-weight") || fl.Changed("ln-weight")
	switch f.recipe {
	case "":
		if weightsGiven {
			return usagef("--lm-weight, --ul-weight and --ln-weight belong to --recipe %s", train.RecipeTFew)
		}
		return nil
	case train.RecipeTFew:
	default:
		return usagef("--recipe %q: the recipes are: %s", f.recipe, train.RecipeTFew)
	}
	w := tfew.Weights{LM: f.lmWeight, UL: f.ulWeight, LN: f.lnWeight}
	if err := w.Validate(); err != nil {
		return usagef("%v", err)
	}
	d := train.TFewOptions()
	o.Recipe, o.TFewWeights = d.Recipe, w
	for _, p := range []struct {
		flag string
		set  func()
	}{
		{"steps", func() {
			if !fl.Changed("epochs") {
				o.MaxSteps = d.MaxSteps
			}
		}},
		{"batch-size", func() { o.BatchSize = d.BatchSize }},
		{"lr", func() { o.LR = d.LR }},
		{"schedule", func() { o.Schedule = d.Schedule }},
		{"warmup-ratio", func() {
			if !fl.Changed("warmup") {
				o.WarmupRatio = d.WarmupRatio
			}
		}},
		{"clip", func() { o.MaxGradNorm = d.MaxGradNorm }},
		{"weight-decay", func() { o.Optim.WeightDecay = d.Optim.WeightDecay }},
	} {
		if !fl.Changed(p.flag) {
			p.set()
		}
	}
	return nil
}

// mixedFiles lists the --adapter-data files for the existence check.
func mixedFiles(o train.Options) [][2]string {
	var out [][2]string
	for _, a := range o.Mixed {
		out = append(out, [2]string{a.TrainFile, "training data of adapter " + a.Name})
	}
	return out
}
