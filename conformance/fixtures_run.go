package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/fixture"
	"github.com/ia3/ia3/model/nn"
)

// caseRun is one case on one device: it runs the checks and emits a row
// for each.
type caseRun struct {
	ctx     context.Context
	c       *fixtureCase
	b       backend.Backend
	info    backend.DeviceInfo
	name    string // the case's name in the report
	scratch string // a directory of its own for files the checks write
	emit    func(FixtureResult)

	// checked records the expected.safetensors keys and meta.json errors
	// some check compared, so that anything left over fails as unchecked.
	checked map[string]bool
}

// run performs every check the case's files call for, in an order that
// lets the sessions share loads: the structure, then the adapters and their
// logits, the unload operations, and training.
func (r *caseRun) run() {
	r.checked = map[string]bool{}
	mc, err := model.LoadConfig(r.c.path("base"))
	if err != nil {
		r.row("load base model", 0, 0, fmt.Errorf("base model config: %w", err))
		return
	}
	steps := []struct {
		name string
		fn   func(*model.Config)
	}{
		{"layers_default", r.checkLayersDefault},
		{"matching", r.checkMatching},
		{"adapters", func(*model.Config) { r.checkAdapters() }},
		{"merge_and_unload a+b", func(*model.Config) { r.checkMergedAB() }},
		{"unload", func(*model.Config) { r.checkUnloaded() }},
		{"merge_and_unload a", func(*model.Config) { r.checkMergedA() }},
		{"train", func(*model.Config) { r.checkTrain() }},
	}
	for _, s := range steps {
		if r.ctx.Err() != nil {
			return
		}
		r.guard(s.name, func() { s.fn(mc) })
	}
	r.reportUnchecked()
	// A GPU may report an error only when its queue is next submitted.
	if err := r.b.Sync(); err != nil {
		r.row("device errors", 0, 0, fmt.Errorf("sync after the case: %w", err))
	}
}

// guard runs fn, turning a panic into a failing row named check, so that
// one broken operation does not hide the case's other checks.
func (r *caseRun) guard(check string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			r.row(check, math.Inf(1), 0, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	fn()
}

// row emits one result; err nil passes.
func (r *caseRun) row(check string, maxErr, tol float64, err error) {
	res := FixtureResult{Case: r.name, Check: check, Device: r.info.Spec, API: r.info.API, MaxErr: maxErr, Tol: tol, Pass: err == nil}
	if err != nil {
		res.Err = err.Error()
	}
	r.emit(res)
}

// refused reports whether PEFT refused op for this case (meta.json errors).
func (r *caseRun) refused(op string) bool {
	_, ok := r.c.meta.Errors[op]
	return ok
}

// peftBug reports whether PEFT's failure of op is its composite
// modules_to_save head bug (fixture.IsCompositeHeadBug), which ia3 does
// not share: the check then expects the operation to work, and the
// failure counts as checked.
func (r *caseRun) peftBug(op string) bool {
	msg, ok := r.c.meta.Errors[op]
	if !ok || !fixture.IsCompositeHeadBug(msg) {
		return false
	}
	r.checked["error:"+op] = true
	return true
}

// refusal emits the row for an operation PEFT refused: it passes when we
// refused too (err, our error, is kept in the row).
func (r *caseRun) refusal(op string, err error) {
	r.checked["error:"+op] = true
	check := "refuses " + op
	if err == nil {
		r.row(check, 0, 0, fmt.Errorf("PEFT refused %s (%s) but we did not", op, firstLine(r.c.meta.Errors[op])))
		return
	}
	r.emit(FixtureResult{Case: r.name, Check: check, Device: r.info.Spec, API: r.info.API, Pass: true, Err: err.Error()})
}

// has reports whether expected.safetensors holds key.
func (r *caseRun) has(key string) bool {
	_, ok := r.c.expected[key]
	return ok
}

// forward runs m without gradients on the case's inputs and returns the
// logits and their shape.
func (r *caseRun) forward(m *model.Model) ([]float32, []int, error) {
	g := nn.NewGraph(r.b, false)
	defer g.Release()
	out := m.Forward(g, r.c.inputs)
	if err := g.Err(); err != nil {
		return nil, nil, fmt.Errorf("forward: %w", err)
	}
	v, err := r.b.ToFloat32(out.T)
	if err != nil {
		return nil, nil, fmt.Errorf("download logits %v: %w", out.Shape(), err)
	}
	return v, slices.Clone(out.Shape()), nil
}

// logits compares m's logits with expected key and with its _f64 twin, one
// row each under the key's name; keys the case lacks are not checked.
func (r *caseRun) logits(key string, m *model.Model) { r.logitsAs("", key, m) }

// logitsAs is logits with rows named "<key> (<label>)" when label is set,
// for a second model checked against the same reference.
func (r *caseRun) logitsAs(label, key string, m *model.Model) {
	refs := r.refKeys(key)
	if len(refs) == 0 {
		return
	}
	got, shape, err := r.forward(m)
	for _, k := range refs {
		r.checked[k] = true
		check := k
		if label != "" {
			check = k + " (" + label + ")"
		}
		if err != nil {
			r.row(check, math.Inf(1), 0, err)
			continue
		}
		d, tol, cerr := fixture.CompareLogits(got, shape, r.c.expected[k], r.c.inputs.AttentionMask, r.c.task)
		r.row(check, d, tol, cerr)
	}
}

// logitsFailed marks key (and its _f64 twin) as failed for err: the
// operation that should have produced the model did not.
func (r *caseRun) logitsFailed(key string, err error) {
	for _, k := range r.refKeys(key) {
		r.checked[k] = true
		r.row(k, math.Inf(1), 0, err)
	}
}

// refKeys lists key and key_f64 where expected.safetensors has them.
func (r *caseRun) refKeys(key string) []string {
	var out []string
	for _, k := range []string{key, key + "_f64"} {
		if r.has(k) {
			out = append(out, k)
		}
	}
	return out
}

// reportUnchecked fails every logits_* key and every refused operation no
// check compared: the case holds something this suite could not verify.
func (r *caseRun) reportUnchecked() {
	var keys []string
	for k := range r.c.expected {
		if strings.HasPrefix(k, "logits_") && !r.checked[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.row(k, 0, 0, errors.New("not checked: no rule produces this key, or the operation it needs failed above"))
	}
	var ops []string
	for op := range r.c.meta.Errors {
		if !r.checked["error:"+op] {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	for _, op := range ops {
		r.row("refuses "+op, 0, 0, fmt.Errorf("not checked: no rule tests a refusal of %q (PEFT: %s)", op, firstLine(r.c.meta.Errors[op])))
	}
}

// loadBase loads the case's base model on the device.
func (r *caseRun) loadBase() (*model.Model, error) {
	m, err := model.Load(r.ctx, r.c.path("base"), r.b)
	if err != nil {
		return nil, fmt.Errorf("load base model: %w", err)
	}
	return m, nil
}

// withAdapters loads the base model with adapter a attached (active) and b
// loaded beside it, as PEFT's fixtures were made.
func (r *caseRun) withAdapters() (*model.Model, *ia3.Model, error) {
	base, err := r.loadBase()
	if err != nil {
		return nil, nil, err
	}
	pm, err := ia3.FromPretrained(base, r.c.path("adapters", "a"), "a", false)
	if err != nil {
		base.Free()
		return nil, nil, fmt.Errorf("load adapter a: %w", err)
	}
	if err := pm.LoadAdapter(r.c.path("adapters", "b"), "b"); err != nil {
		base.Free()
		return nil, nil, fmt.Errorf("load adapter b: %w", err)
	}
	return base, pm, nil
}

// hasAdapter reports whether the case holds adapters/<name>.
func (r *caseRun) hasAdapter(name string) bool {
	return fileExists(filepath.Join(r.c.dir, "adapters", name, ia3.ConfigFile))
}

// maxAbsDiff returns max |got − want| (+Inf for a NaN) and an error when
// the lengths differ.
func maxAbsDiff(got, want []float32) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d values, reference %d", len(got), len(want))
	}
	m := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.Inf(1), nil
		}
		m = max(m, d)
	}
	return m, nil
}

// maxAbs returns max |v|.
func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
