package conformance

import (
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// checkAdapters runs the session that keeps one model: the base logits,
// adapters a and b loaded, each active, both active, a batch mixing them,
// adapters disabled, and the weighted adapter.
func (r *caseRun) checkAdapters() {
	base, err := r.loadBase()
	if err != nil {
		r.row("load base model", math.Inf(1), 0, err)
		return
	}
	defer base.Free()
	r.logits("logits_base", base)
	if !r.hasAdapter("a") {
		return
	}
	pm, err := ia3.FromPretrained(base, r.c.path("adapters", "a"), "a", false)
	r.row("load adapter a", 0, 0, err)
	if err != nil {
		return
	}
	r.logits("logits_a", base)
	if !r.hasAdapter("b") {
		return
	}
	err = pm.LoadAdapter(r.c.path("adapters", "b"), "b")
	r.row("load adapter b", 0, 0, err)
	if err != nil {
		return
	}
	if err := pm.SetAdapter("b"); err != nil {
		r.logitsFailed("logits_b", fmt.Errorf("set_adapter b: %w", err))
	} else {
		r.logits("logits_b", base)
	}
	r.checkBothActive(base, pm)
	r.checkMixedBatch(base, pm)
	if err := pm.SetAdapter("a"); err != nil {
		r.row("set_adapter a", 0, 0, err)
		return
	}
	err = pm.WithAdaptersDisabled(func() error {
		r.logits("logits_disabled", base)
		return nil
	})
	if err != nil {
		r.logitsFailed("logits_disabled", fmt.Errorf("disable_adapter: %w", err))
	}
	r.checkMergeUnmerge(base, pm)
	r.checkWeighted(base, pm)
}

// checkMergeUnmerge merges the active adapter a into the weights in place
// (PEFT's merge_adapter) and takes it out again (unmerge_adapter, dividing
// by vector + 1e-8): both states must give adapter a's logits, so the merge
// maths and its inverse are proven on the device too.
func (r *caseRun) checkMergeUnmerge(base *model.Model, pm *ia3.Model) {
	if r.refused("merge_and_unload_a") && !r.peftBug("merge_and_unload_a") {
		return
	}
	if err := pm.Merge(true, "a"); err != nil {
		r.row("merge a in place", math.Inf(1), 0, err)
		return
	}
	r.logitsAs("merged in place", "logits_a", base)
	if err := pm.Unmerge(); err != nil {
		r.row("unmerge a", math.Inf(1), 0, err)
		return
	}
	r.logitsAs("unmerged", "logits_a", base)
}

// checkBothActive activates a and b together: PEFT multiplies their
// vectors, or refuses (a modules_to_save head holds one adapter at a time).
func (r *caseRun) checkBothActive(base *model.Model, pm *ia3.Model) {
	const key, op = "logits_a_and_b_active", "a_and_b_active"
	err := pm.SetAdapter("a", "b")
	switch {
	case r.refused(op):
		r.refusal(op, err)
	case err != nil:
		r.logitsFailed(key, fmt.Errorf("set_adapter([a, b]): %w", err))
	default:
		r.logits(key, base)
	}
}

// checkWeighted builds the weighted adapter meta.json describes (PEFT's
// add_weighted_adapter(["a","b"], [0.6, 0.4], "w") when it names none),
// compares its vectors with PEFT's adapters/w, and checks the logits of
// both: ours, and PEFT's file loaded. Where PEFT refused, we must refuse.
func (r *caseRun) checkWeighted(base *model.Model, pm *ia3.Model) {
	const op = "add_weighted_adapter"
	spec := weightedSpec{Adapters: []string{"a", "b"}, Weights: []float64{0.6, 0.4}, Name: "w"}
	if r.c.meta.Weighted != nil {
		spec = *r.c.meta.Weighted
	}
	key := "logits_weighted_" + spec.Name
	err := pm.AddWeightedAdapter(spec.Adapters, spec.Weights, spec.Name)
	if r.refused(op) {
		r.refusal(op, err)
		return
	}
	if err != nil {
		r.row(op, 0, 0, err)
		r.logitsFailed(key, err)
		return
	}
	if r.hasAdapter(spec.Name) {
		theirs := "peft_" + spec.Name
		err := pm.LoadAdapter(r.c.path("adapters", spec.Name), theirs)
		r.row("load adapter "+spec.Name, 0, 0, err)
		if err == nil {
			d, tol, err := compareVectors(pm, spec.Name, theirs)
			r.row(fmt.Sprintf("%s vectors = PEFT's adapters/%s", spec.Name, spec.Name), d, tol, err)
			if err := pm.SetAdapter(theirs); err != nil {
				r.row("set_adapter "+theirs, 0, 0, err)
			} else {
				r.logitsAs("PEFT's adapters/"+spec.Name, key, base)
			}
		}
	}
	if err := pm.SetAdapter(spec.Name); err != nil {
		r.logitsFailed(key, fmt.Errorf("set_adapter %s: %w", spec.Name, err))
		return
	}
	r.logits(key, base)
}

// vectorTol is the bound for vectors computed by the same float32
// arithmetic as PEFT's (a weighted sum): a few roundings of values near 1.
const vectorTol = 1e-6

// compareVectors returns the largest difference between adapter ours and
// adapter theirs over every layer, with the tolerance vectorTol·max(1,
// max|theirs|). A layer that has one adapter and not the other is an
// error.
func compareVectors(pm *ia3.Model, ours, theirs string) (maxErr, tol float64, err error) {
	scale := 1.0
	b := pm.Backend()
	var errs []error
	for _, l := range pm.Layers() {
		po, pt := l.Vector(ours), l.Vector(theirs)
		if (po == nil) != (pt == nil) {
			errs = append(errs, fmt.Errorf("layer %s: vector of %s present %t, of PEFT's file %t", l.Name, ours, po != nil, pt != nil))
			continue
		}
		if po == nil {
			continue
		}
		vo, err := b.ToFloat32(po.T)
		if err != nil {
			return math.Inf(1), 0, fmt.Errorf("download %s: %w", po.Name, err)
		}
		vt, err := b.ToFloat32(pt.T)
		if err != nil {
			return math.Inf(1), 0, fmt.Errorf("download %s: %w", pt.Name, err)
		}
		d, err := maxAbsDiff(vo, vt)
		if err != nil {
			errs = append(errs, fmt.Errorf("layer %s: %w", l.Name, err))
			continue
		}
		maxErr = max(maxErr, d)
		scale = max(scale, maxAbs(vt))
	}
	tol = vectorTol * scale
	if maxErr > tol {
		errs = append(errs, fmt.Errorf("max |ours − PEFT's| = %.3g exceeds %.3g", maxErr, tol))
	}
	return maxErr, tol, errors.Join(errs...)
}
