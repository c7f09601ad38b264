package conformance

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// checkMergedAB merges a and b into the weights (PEFT's
// merge_and_unload(adapter_names=["a","b"])) on a fresh model.
func (r *caseRun) checkMergedAB() {
	const key, op = "logits_merged_a_b", "merge_and_unload_a_b"
	if !r.has(key) && !r.refused(op) {
		return
	}
	base, pm, err := r.withAdapters()
	if err != nil {
		r.logitsFailed(key, err)
		return
	}
	defer base.Free()
	if r.peftBug(op) {
		r.checkMergedABWithHead(base, pm)
		return
	}
	merged, err := pm.MergeAndUnload(true, "a", "b")
	switch {
	case r.refused(op):
		r.refusal(op, err)
	case err != nil:
		r.logitsFailed(key, fmt.Errorf("merge_and_unload([a, b]): %w", err))
	default:
		r.logits(key, merged)
	}
}

// checkMergedABWithHead is checkMergedAB where PEFT fails on a composite
// modules_to_save head, so no PEFT logits exist: the model with a and b
// merged in place (a's head installed) is the reference, and
// merge_and_unload must keep its logits.
func (r *caseRun) checkMergedABWithHead(base *model.Model, pm *ia3.Model) {
	const check = "merge_and_unload_a_b (PEFT fails: composite head) = a+b merged in place"
	if err := pm.Merge(true, "a", "b"); err != nil {
		r.row(check, math.Inf(1), 0, fmt.Errorf("merge a, b in place: %w", err))
		return
	}
	want, _, err := r.forward(base)
	if err != nil {
		r.row(check, math.Inf(1), 0, err)
		return
	}
	merged, err := pm.MergeAndUnload(true, "a", "b")
	if err != nil {
		r.row(check, math.Inf(1), 0, fmt.Errorf("merge_and_unload([a, b]): %w", err))
		return
	}
	got, _, err := r.forward(merged)
	if err != nil {
		r.row(check, math.Inf(1), 0, err)
		return
	}
	d, err := maxAbsDiff(got, want)
	tol := weightTol * max(1, maxAbs(want))
	if err == nil && d > tol {
		err = fmt.Errorf("max |unloaded − in place| = %.3g exceeds %.3g", d, tol)
	}
	r.row(check, d, tol, err)
}

// checkUnloaded removes the adapters without merging (PEFT's unload) on a
// fresh model: the base model's logits come back.
func (r *caseRun) checkUnloaded() {
	const key, op = "logits_unloaded", "unload"
	if !r.has(key) && !r.refused(op) {
		return
	}
	base, pm, err := r.withAdapters()
	if err != nil {
		r.logitsFailed(key, err)
		return
	}
	defer base.Free()
	unloaded, err := pm.Unload()
	switch {
	case r.peftBug(op) && err == nil:
		// PEFT fails on a composite head; the unloaded model is the base.
		r.logitsAs("PEFT fails: composite head", "logits_base", unloaded)
	case r.peftBug(op):
		r.row("unload (PEFT fails: composite head)", math.Inf(1), 0, fmt.Errorf("unload: %w", err))
	case r.refused(op):
		r.refusal(op, err)
	case err != nil:
		r.logitsFailed(key, fmt.Errorf("unload: %w", err))
	default:
		r.logits(key, unloaded)
	}
}

// checkMergedA merges the active adapter a (PEFT's merge_and_unload) on a
// fresh model and checks the logits of three models against
// logits_merged_a: ours, PEFT's merged_a/ checkpoint loaded, and ours
// saved and loaded back; and our merged weights against PEFT's.
func (r *caseRun) checkMergedA() {
	const key, op = "logits_merged_a", "merge_and_unload_a"
	peftDir := r.c.path("merged_a")
	hasDir := fileExists(r.c.path("merged_a", "config.json"))
	if !r.has(key) && !r.refused(op) && !hasDir {
		return
	}
	var theirs *model.Model
	if hasDir {
		var err error
		theirs, err = model.Load(r.ctx, peftDir, r.b)
		r.row("load PEFT's merged_a/", 0, 0, err)
		if err != nil {
			theirs = nil
		} else {
			defer theirs.Free()
			r.logitsAs("PEFT's merged_a/", key, theirs)
		}
	}
	base, pm, err := r.withAdapters()
	if err != nil {
		r.logitsFailed(key, err)
		return
	}
	defer base.Free()
	merged, err := pm.MergeAndUnload(true)
	bug := r.peftBug(op)
	switch {
	case bug && err != nil:
		r.row("merge_and_unload_a (PEFT fails: composite head)", math.Inf(1), 0, fmt.Errorf("merge_and_unload: %w", err))
		return
	case r.refused(op) && !bug:
		r.refusal(op, err)
		return
	case err != nil:
		r.logitsFailed(key, fmt.Errorf("merge_and_unload: %w", err))
		return
	}
	label, ref := "", key
	if bug {
		// No PEFT logits: the merged model is adapter a's, head included.
		label, ref = "merged, PEFT fails: composite head", "logits_a"
	}
	r.logitsAs(label, ref, merged)
	if theirs != nil {
		d, tol, err := compareParams(merged, theirs)
		r.row("merged_a weights = PEFT's merged_a/", d, tol, err)
	}
	saved := filepath.Join(r.scratch, "merged_a")
	if err := merged.Save(saved); err != nil {
		r.row("save merged_a", 0, 0, err)
		return
	}
	reloaded, err := model.Load(r.ctx, saved, r.b)
	if err != nil {
		r.row("reload our saved merged_a", 0, 0, err)
		return
	}
	defer reloaded.Free()
	r.logitsAs("our merge saved and reloaded", ref, reloaded)
}

// weightTol is the bound for merged weights: PEFT multiplies each weight
// by its vector in float32, so only roundings separate the results.
const weightTol = 1e-6

// compareParams returns the largest difference between the parameters of
// ours and theirs (matched by checkpoint name), with the tolerance
// weightTol·max(1, max|theirs|). Parameters present in one model only, or
// of different shapes, are errors.
func compareParams(ours, theirs *model.Model) (maxErr, tol float64, err error) {
	byName := map[string][]int{}
	tp := theirs.Params()
	for i, p := range tp {
		byName[p.Name] = append(byName[p.Name], i)
	}
	scale := 1.0
	var errs []error
	seen := map[string]bool{}
	for _, p := range ours.Params() {
		idx, ok := byName[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("parameter %s: not in PEFT's checkpoint", p.Name))
			continue
		}
		seen[p.Name] = true
		q := tp[idx[0]]
		if !slices.Equal(p.T.Shape(), q.T.Shape()) {
			errs = append(errs, fmt.Errorf("parameter %s: shape %v, PEFT's %v", p.Name, p.T.Shape(), q.T.Shape()))
			continue
		}
		vo, err := ours.Backend().ToFloat32(p.T)
		if err != nil {
			return math.Inf(1), 0, fmt.Errorf("download %s: %w", p.Name, err)
		}
		vt, err := theirs.Backend().ToFloat32(q.T)
		if err != nil {
			return math.Inf(1), 0, fmt.Errorf("download PEFT's %s: %w", q.Name, err)
		}
		d, err := maxAbsDiff(vo, vt)
		if err != nil {
			errs = append(errs, fmt.Errorf("parameter %s %v vs %v: %w", p.Name, p.T.Shape(), q.T.Shape(), err))
			continue
		}
		maxErr = max(maxErr, d)
		scale = max(scale, maxAbs(vt))
	}
	for _, q := range tp {
		if !seen[q.Name] {
			errs = append(errs, fmt.Errorf("parameter %s: in PEFT's checkpoint, not in ours", q.Name))
		}
	}
	tol = weightTol * scale
	if maxErr > tol {
		errs = append(errs, fmt.Errorf("max |ours − PEFT's| = %.3g exceeds %.3g", maxErr, tol))
	}
	return maxErr, tol, errors.Join(errs...)
}
