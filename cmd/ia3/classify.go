package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/quant"
)

// classifyFlags are the flags of `ia3 classify`.
type classifyFlags struct {
	model, adapter, input, data, device string
	choices                             []string
	maxLen                              int
	sum, asJSON                         bool
}

// classifyChoice is one choice's score in `ia3 classify` output.
type classifyChoice struct {
	Choice string  `json:"choice,omitempty"`
	LogLik float64 `json:"loglik"`
	Mean   float64 `json:"mean_loglik"`
	Tokens int     `json:"tokens"`
}

// classifyJSON is one example's result.
type classifyJSON struct {
	Pick    int              `json:"pick"`
	Label   *int             `json:"label,omitempty"`
	Choices []classifyChoice `json:"choices"`
}

// newClassifyCmd builds `ia3 classify`.
func newClassifyCmd(a *app) *cobra.Command {
	var f classifyFlags
	cmd := &cobra.Command{
		Use:   "classify",
		Short: "Pick one of given answer choices by rank classification (T-Few)",
		Long: `Score every answer choice by its log-likelihood under the model (with an
adapter, typically one trained with ia3 train --recipe t-few) and pick the
best: T-Few's rank classification. Choices are ranked by their mean token
log-likelihood (length-normalised, as the paper does), or with --sum by the
total.

Give one example with --input and two or more --choice, or a JSONL file with
--data, {"input": ..., "choices": [...]} per line (a "label" is optional; with
labels on every line the accuracy is printed to stderr). T5 models read the
input with the encoder and score each choice as the decoder's target; causal
LMs score each choice as the continuation of the input (put the space that
separates them at the start of the choices: " yes").`,
		Example: `  ia3 classify --model ./t0 --adapter ad --input "Is the sky blue? yes or no" --choice yes --choice no
  ia3 classify --model ./gpt2 --input "The sky is" --choice " blue" --choice " green" --json
  ia3 classify --model ./t0 --adapter ad --data questions.jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model"); err != nil {
				return err
			}
			return runClassify(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "base model directory (config.json, safetensors, tokenizer.json), a llama.cpp .gguf file, or Hub id org/name[@revision]")
	fl.StringVar(&f.adapter, "adapter", "", "PEFT adapter directory or Hub id to apply (default: the base model alone)")
	fl.StringVar(&f.input, "input", "", "the prompt")
	fl.StringArrayVar(&f.choices, "choice", nil, "an answer choice (repeatable)")
	fl.StringVar(&f.data, "data", "", `JSONL of {"input": ..., "choices": [...]} examples instead of --input/--choice`)
	fl.IntVar(&f.maxLen, "max-len", 512, "truncate the input so that input and choice fit this many tokens")
	fl.BoolVar(&f.sum, "sum", false, "rank by the total log-likelihood instead of the mean per token")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON (one object per example)")
	addDeviceFlag(cmd, &f.device)
	return cmd
}

// runClassify loads the model and adapter and ranks the choices of the
// example or of every line of --data.
func runClassify(cmd *cobra.Command, a *app, f *classifyFlags) error {
	single := f.input != "" || len(f.choices) > 0
	switch {
	case single && f.data != "":
		return usagef("give --input and --choice, or --data, not both")
	case !single && f.data == "":
		return usagef("give --input and at least two --choice, or --data")
	case single && len(f.choices) < 2:
		return usagef("give at least two --choice to pick from (got %d)", len(f.choices))
	case f.maxLen < 2:
		return usagef("--max-len must be at least 2")
	}
	if err := checkDeviceSpec(f.device); err != nil {
		return err
	}
	if f.data != "" {
		if err := mustBeFile(f.data, "data file"); err != nil {
			return err
		}
	}
	if err := a.resolveModelAdapter(cmd.Context(), &f.model, &f.adapter); err != nil {
		return err
	}
	if err := mustBeFile(tokenizerFile(f.model), "tokenizer (the choices are tokenised with the model's own)"); err != nil {
		return err
	}
	var specs []adapterSpec
	if f.adapter != "" {
		specs = []adapterSpec{{Dir: f.adapter, Name: "default"}}
	}
	l, err := loadChecked(cmd.Context(), f.device, f.model, specs, quant.None, nil)
	if err != nil {
		return err
	}
	defer l.close()
	cfg := l.base.Config()
	if single {
		ex, err := train.EncodeChoices(f.model, cfg, f.input, f.choices, f.maxLen)
		if err != nil {
			return err
		}
		res, err := classifyOne(l, ex, f.choices, f.sum)
		if err != nil {
			return err
		}
		if f.asJSON {
			return json.NewEncoder(a.stdout).Encode(res)
		}
		for c, s := range res.Choices {
			mark := " "
			if c == res.Pick {
				mark = "*"
			}
			fmt.Fprintf(a.stdout, "%s %-20q mean log-lik %9.4f  total %9.4f  (%d tokens)\n", mark, s.Choice, s.Mean, s.LogLik, s.Tokens)
		}
		fmt.Fprintf(a.stdout, "pick: %s\n", f.choices[res.Pick])
		return nil
	}
	exs, err := train.ReadChoices(f.model, cfg, f.data, f.maxLen, false)
	if err != nil {
		return err
	}
	correct, labelled := 0, 0
	for i, ex := range exs {
		if err := cmd.Context().Err(); err != nil {
			return err
		}
		res, err := classifyOne(l, ex, nil, f.sum)
		if err != nil {
			return fmt.Errorf("%s example %d: %w", f.data, i+1, err)
		}
		if ex.Label >= 0 {
			label := ex.Label
			res.Label = &label
			labelled++
			if res.Pick == label {
				correct++
			}
		}
		if f.asJSON {
			if err := json.NewEncoder(a.stdout).Encode(res); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(a.stdout, "%d\t%d\n", i+1, res.Pick)
	}
	if labelled == len(exs) {
		fmt.Fprintf(a.stderr, "accuracy %.4f (%d of %d)\n", float64(correct)/float64(labelled), correct, labelled)
	}
	return nil
}

// classifyOne scores ex's choices (named by texts when given) and picks.
func classifyOne(l *loaded, ex tfew.Example, texts []string, sum bool) (classifyJSON, error) {
	scores, err := tfew.Scores(l.base, ex)
	if err != nil {
		return classifyJSON{}, err
	}
	res := classifyJSON{Pick: tfew.Pick(scores, !sum)}
	for c, s := range scores {
		cc := classifyChoice{LogLik: s.LogLik, Mean: s.Mean(), Tokens: s.Tokens}
		if texts != nil {
			cc.Choice = texts[c]
		}
		res.Choices = append(res.Choices, cc)
	}
	return res, nil
}
