package train

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ia3/ia3/ia3"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// MixedLoss runs one forward pass of base over a batch whose samples train
// different adapters — adapters[s] names the adapter of sample s ("" for
// none) — and returns the sum over the adapters named of the mean loss of
// that adapter's samples, as a [1] value. Each row's scaling comes from
// its own adapter's vector (g.Adapters is set to adapters), so after
// Backward every adapter's vectors hold exactly the gradient a batch of
// its samples alone would give them: one mixed step equals the separate
// single-adapter steps (as long as gradient clipping, which couples
// parameters through the global norm, is off). The adapters to train must
// be trainable, e.g. made active together with ia3.Model.SetAdapter.
//
// An adapter whose samples have no counted label adds nothing. Regression
// heads (mean squared error) are refused: their loss has no ignore index
// to split it by sample.
func MixedLoss(g *nn.Graph, base *model.Model, in *model.Inputs, adapters []string) *nn.Value {
	const op = "train.MixedLoss"
	if g == nil || g.Err() != nil {
		return nil
	}
	if in == nil || base == nil {
		return g.Fail(op, errors.New("nil model or inputs"))
	}
	if len(adapters) != in.Batch {
		return g.Fail(op, fmt.Errorf("%d adapter names for a batch of %d samples", len(adapters), in.Batch))
	}
	if in.Batch == 0 || len(in.Labels) == 0 || len(in.Labels)%in.Batch != 0 {
		return g.Fail(op, fmt.Errorf("%d labels do not split into %d samples (a regression head, or no labels?)", len(in.Labels), in.Batch))
	}
	g.Adapters = slices.Clone(adapters)
	logits := base.Forward(g, in)
	if logits == nil {
		return nil
	}
	causal := base.Config().TaskType == model.TaskCausalLM
	per := len(in.Labels) / in.Batch
	var total *nn.Value
	var seen []string
	for _, name := range adapters {
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		masked := *in
		masked.Labels = make([]int32, len(in.Labels))
		counted := 0
		for s := range in.Batch {
			for i := range per {
				k := s*per + i
				masked.Labels[k] = model.IgnoreIndex
				if adapters[s] == name {
					masked.Labels[k] = in.Labels[k]
					// A causal LM's first label is never predicted.
					if in.Labels[k] != model.IgnoreIndex && !(causal && i == 0) {
						counted++
					}
				}
			}
		}
		if counted == 0 {
			continue
		}
		l := base.LossOf(g, logits, &masked)
		if total == nil {
			total = l
		} else {
			total = g.Add(total, l)
		}
	}
	if err := g.Err(); err != nil {
		return nil
	}
	if total == nil {
		return g.Fail(op, errors.New("no sample of the batch has a counted label"))
	}
	return total
}

// AdapterData names one adapter of a mixed-adapter run (Options.Mixed) and
// the JSONL file it trains on.
type AdapterData struct {
	Name, TrainFile string
}

// validateMixed checks Options.Mixed: distinct, non-empty names, a file
// each, and none of the options a mixed run does not support yet.
func (o Options) validateMixed() error {
	seen := map[string]bool{}
	for i, a := range o.Mixed {
		switch {
		case a.Name == "" || a.TrainFile == "":
			return fmt.Errorf("train: mixed adapter %d: want a name and a training file, got %q=%q", i, a.Name, a.TrainFile)
		case seen[a.Name]:
			return fmt.Errorf("train: mixed adapter %q given twice", a.Name)
		case strings.ContainsAny(a.Name, `/\`) || a.Name == "." || a.Name == "..":
			return fmt.Errorf("train: mixed adapter name %q must not be a path (it names the adapter's directory)", a.Name)
		}
		seen[a.Name] = true
	}
	switch {
	case len(o.Mixed) < 2:
		return fmt.Errorf("train: a mixed-adapter run needs at least two adapters, got %d", len(o.Mixed))
	case o.TrainFile != "":
		return errors.New("train: give a training file or mixed adapters' files, not both")
	case o.EvalFile != "" || o.EvalFraction != 0:
		return errors.New("train: a mixed-adapter run has no evaluation yet; evaluate each saved adapter with Evaluate")
	case o.ResumeFrom != "":
		return errors.New("train: a mixed-adapter run cannot resume yet")
	case o.Recipe != "":
		return fmt.Errorf("train: a mixed-adapter run trains with plain cross-entropy, not the %s recipe", o.Recipe)
	}
	return nil
}

// loadMixed reads every adapter's file and joins them into one dataset
// whose examples carry their adapter's name; micro-batches drawn from it
// mix the adapters.
func loadMixed(opts Options, cfg *model.Config, enc encoder) (*dataset, error) {
	var all *dataset
	for _, a := range opts.Mixed {
		d, err := loadSet(a.TrainFile, cfg, enc, maxLength(opts.MaxLength, cfg), false)
		if err != nil {
			return nil, fmt.Errorf("train: adapter %s: %w", a.Name, err)
		}
		if d.task == taskChoices {
			return nil, fmt.Errorf("train: adapter %s: multiple-choice data does not train in a mixed-adapter run", a.Name)
		}
		if d.regression {
			return nil, fmt.Errorf("train: adapter %s: a regression head has no per-sample loss to mix", a.Name)
		}
		for i := range d.examples {
			d.examples[i].adapter = a.Name
		}
		if all == nil {
			all = d
			continue
		}
		all.examples = append(all.examples, d.examples...)
	}
	return all, nil
}

// newMixedModel wraps base with one adapter of cfg per mixed adapter, all
// active and trainable: each batch row then trains its own adapter's
// vectors (MixedLoss).
func newMixedModel(base *model.Model, cfg *ia3.Config, mixed []AdapterData) (*ia3.Model, error) {
	pm, err := ia3.New(base, cfg, mixed[0].Name)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	names := []string{mixed[0].Name}
	for _, a := range mixed[1:] {
		if err := pm.AddAdapter(a.Name, cfg); err != nil {
			return nil, errors.Join(fmt.Errorf("train: %w", err), pm.DeleteAdapter(mixed[0].Name))
		}
		names = append(names, a.Name)
	}
	if err := pm.SetAdapter(names...); err != nil {
		return nil, fmt.Errorf("train: mixed adapters: %w", err)
	}
	return pm, nil
}

// mixedMicroBatch accumulates MixedLoss over the micro-batch idx, each row
// with its example's adapter, and returns its real tokens.
func (s *session) mixedMicroBatch(idx []int) (int, error) {
	in, tokens, _ := s.train.batch(idx)
	adapters := make([]string, len(idx))
	for r, i := range idx {
		adapters[r] = s.train.examples[i].adapter
	}
	if err := s.st.accumulateLoss(func(g *nn.Graph) *nn.Value { return MixedLoss(g, s.base, in, adapters) }); err != nil {
		return 0, fmt.Errorf("batch starting at %s: %w", s.train.examples[idx[0]].source, err)
	}
	return tokens, nil
}
