package conformance

import (
	"fmt"
	"math"
	"slices"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/fixture"
	"github.com/ia3/ia3/model/nn"
)

// mixedAdapters cycles over the adapters a mixed batch gives its samples,
// with the key holding each one's logits ("" runs the base model).
var mixedAdapters = []struct{ adapter, key string }{
	{"b", "logits_b"}, {"a", "logits_a"}, {"", "logits_base"},
}

// checkMixedBatch runs the batch with a different adapter per sample
// (PEFT's adapter_names argument), twice: samples cycling over b, a, none
// and over none, b, a, so that even a batch of two meets all three. Each
// sample is compared with the same sample of the single-adapter
// reference: batch rows are independent, so the reference is PEFT's own.
// Models with modules_to_save are left out: their head holds one adapter
// at a time.
func (r *caseRun) checkMixedBatch(base *model.Model, pm *ia3.Model) {
	if len(pm.ModulesToSave()) > 0 {
		return
	}
	for _, shift := range []int{0, 2} {
		r.mixedBatch(base, shift)
	}
}

// mixedBatch runs one mixed batch, sample s getting
// mixedAdapters[(s+shift) mod 3].
func (r *caseRun) mixedBatch(base *model.Model, shift int) {
	in := r.c.inputs
	names := make([]string, in.Batch)
	shown := make([]string, in.Batch)
	refs := make([]fixture.Tensor, in.Batch)
	for s := range names {
		m := mixedAdapters[(s+shift)%len(mixedAdapters)]
		ref, ok := r.c.expected[m.key]
		if !ok {
			return
		}
		names[s], refs[s], shown[s] = m.adapter, ref, m.adapter
		if m.adapter == "" {
			shown[s] = "none"
		}
	}
	check := fmt.Sprintf("mixed batch %v", shown)
	ref, err := stackSamples(refs)
	if err != nil {
		r.row(check, math.Inf(1), 0, err)
		return
	}
	g := nn.NewGraph(r.b, false)
	defer g.Release()
	g.Adapters = names
	out := base.Forward(g, in)
	if err := g.Err(); err != nil {
		r.row(check, math.Inf(1), 0, fmt.Errorf("forward: %w", err))
		return
	}
	got, err := r.b.ToFloat32(out.T)
	if err != nil {
		r.row(check, math.Inf(1), 0, fmt.Errorf("download logits %v: %w", out.Shape(), err))
		return
	}
	d, tol, err := fixture.CompareLogits(got, slices.Clone(out.Shape()), ref, in.AttentionMask, r.c.task)
	r.row(check, d, tol, err)
}

// stackSamples builds one batch whose sample s is sample s of refs[s]
// (all shaped alike, batch first).
func stackSamples(refs []fixture.Tensor) (fixture.Tensor, error) {
	shape := refs[0].Shape
	if len(shape) == 0 || shape[0] != len(refs) {
		return fixture.Tensor{}, fmt.Errorf("reference logits %v do not have %d samples", shape, len(refs))
	}
	per := len(refs[0].Data) / shape[0]
	out := fixture.Tensor{Shape: shape, Data: make([]float32, len(refs[0].Data))}
	for s, t := range refs {
		if !slices.Equal(t.Shape, shape) {
			return fixture.Tensor{}, fmt.Errorf("reference logits shaped %v and %v", shape, t.Shape)
		}
		copy(out.Data[s*per:(s+1)*per], t.Data[s*per:(s+1)*per])
	}
	return out, nil
}
