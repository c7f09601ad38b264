package train

import (
	"errors"
	"fmt"
	"slices"

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
