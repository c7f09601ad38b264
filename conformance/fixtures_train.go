package conformance

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/fixture"
	"github.com/ia3/ia3/model/nn"
)

// Training tolerances, from the fixtures' README.
const (
	lossRelTol  = 1e-4 // per-step loss, relative
	gradRelTol  = 1e-4 // step-0 gradient, relative to max(gradFloor, max|g|)
	gradFloor   = 1e-3
	paramAbsTol = 1e-4 // final parameters and the saved adapter
)

// checkTrain replays meta.json's training trajectory: a fresh default
// adapter (vectors of ones, the classification head trained too for
// SEQ_CLS), AdamW with the spec's hyper-parameters at a constant learning
// rate, spec.Steps full-batch steps on the case's inputs. It checks the
// trainable names, the step-0 gradients, every step's loss, the final
// parameters and the adapter a save writes.
func (r *caseRun) checkTrain() {
	spec := r.c.meta.Train
	if spec == nil {
		return
	}
	if spec.Optimizer != "AdamW" || spec.Schedule != "constant" || spec.GradClip != nil || len(spec.Betas) != 2 {
		r.row("train", 0, 0, fmt.Errorf("unsupported training spec: optimizer %q, lr_schedule %q, grad_clip %v, betas %v (want AdamW, constant, none, two betas)",
			spec.Optimizer, spec.Schedule, spec.GradClip, spec.Betas))
		return
	}
	base, err := r.loadBase()
	if err != nil {
		r.row("train", 0, 0, err)
		return
	}
	defer base.Free()
	cfg := ia3.NewConfig()
	cfg.TaskType = r.c.task
	pm, err := ia3.New(base, cfg, ia3.DefaultAdapter)
	if err != nil {
		r.row("train", 0, 0, fmt.Errorf("attach a default adapter: %w", err))
		return
	}
	params := pm.TrainableParams()
	want := slices.Sorted(slices.Values(spec.Trainable))
	if got := trainableNames(pm); !slices.Equal(got, want) {
		r.row("train trainable", 0, 0, fmt.Errorf("trainable %q, PEFT %q", got, want))
	} else {
		r.row("train trainable", 0, 0, nil)
	}
	opt, err := train.NewOptimizer(r.b, params, train.AdamW{Beta1: spec.Betas[0], Beta2: spec.Betas[1], Eps: spec.Eps, WeightDecay: spec.WeightDecay})
	if err != nil {
		r.row("train", 0, 0, err)
		return
	}
	defer opt.Free()

	losses := make([]float64, 0, spec.Steps)
	for step := range spec.Steps {
		loss, err := r.trainStep(base, params, opt, spec.LR, step == 0)
		if err != nil {
			r.row("train losses", math.Inf(1), lossRelTol, fmt.Errorf("step %d: %w", step, err))
			return
		}
		losses = append(losses, loss)
	}
	d, err := compareLosses(losses, spec.Losses)
	r.row("train losses", d, lossRelTol, err)
	r.checkFinalParams(params)
	r.checkTrainedAdapter(pm)
}

// trainStep runs one forward, backward and AdamW update of base, and
// returns the loss. On the first step it compares the gradients with
// grads_step0.safetensors.
func (r *caseRun) trainStep(base *model.Model, params []ia3.NamedParam, opt *train.Optimizer, lr float64, first bool) (float64, error) {
	g := nn.NewGraph(r.b, true)
	defer g.Release()
	loss := base.Loss(g, r.c.inputs)
	if err := g.Err(); err != nil {
		return 0, fmt.Errorf("forward: %w", err)
	}
	if err := g.Backward(loss); err != nil {
		return 0, fmt.Errorf("backward: %w", err)
	}
	lv, err := r.b.ToFloat32(loss.T)
	if err != nil {
		return 0, fmt.Errorf("download loss: %w", err)
	}
	grads := make([]backend.Tensor, len(params))
	for i, p := range params {
		if grads[i] = g.ParamGrad(p.Param); grads[i] == nil {
			// Not reached by the loss: a zero gradient, as torch's
			// AdamW sees it after zero_grad.
			z, err := r.b.Zeros(p.Param.T.Shape()...)
			if err != nil {
				return 0, fmt.Errorf("zero gradient of %s: %w", p.Name, err)
			}
			grads[i] = g.Own(z)
		}
	}
	if first {
		r.checkGrads(params, grads)
	}
	if err := opt.Step(grads, lr); err != nil {
		return 0, err
	}
	return float64(lv[0]), nil
}

// checkGrads compares the step-0 gradients with grads_step0.safetensors
// ("grad0/<name>"), each within gradRelTol·max(gradFloor, max|g|); the row
// reports the parameter whose error is the largest share of its bound.
func (r *caseRun) checkGrads(params []ia3.NamedParam, grads []backend.Tensor) {
	const check = "train grads_step0"
	path := r.c.path("train", "grads_step0.safetensors")
	if !fileExists(path) {
		return
	}
	ref, err := fixture.ReadTensors(path)
	if err != nil {
		r.row(check, 0, 0, err)
		return
	}
	worst, worstErr, worstTol := -1.0, 0.0, 0.0
	var errs []error
	for i, p := range params {
		want, ok := ref["grad0/"+p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no grad0/%s", path, p.Name))
			continue
		}
		got, err := r.b.ToFloat32(grads[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("download gradient of %s: %w", p.Name, err))
			continue
		}
		d, err := maxAbsDiff(got, want.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("gradient of %s: %w", p.Name, err))
			continue
		}
		tol := gradRelTol * max(gradFloor, maxAbs(want.Data))
		if d > tol {
			errs = append(errs, fmt.Errorf("gradient of %s: max |ours − PEFT's| = %.3g exceeds %.3g", p.Name, d, tol))
		}
		if d/tol > worst {
			worst, worstErr, worstTol = d/tol, d, tol
		}
	}
	r.row(check, worstErr, worstTol, errors.Join(errs...))
}

// compareLosses returns the largest relative difference between the
// losses and PEFT's, and an error past lossRelTol.
func compareLosses(got, want []float64) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d losses, PEFT %d", len(got), len(want))
	}
	worst := 0.0
	var errs []error
	for i := range got {
		d := math.Abs(got[i]-want[i]) / math.Abs(want[i])
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > lossRelTol {
			errs = append(errs, fmt.Errorf("step %d: loss %.7g, PEFT %.7g: relative difference %.3g exceeds %.3g", i, got[i], want[i], d, lossRelTol))
		}
		worst = max(worst, d)
	}
	return worst, errors.Join(errs...)
}

// checkFinalParams compares the trained parameters with
// params_final.safetensors ("final/<name>") within paramAbsTol.
func (r *caseRun) checkFinalParams(params []ia3.NamedParam) {
	const check = "train params_final"
	path := r.c.path("train", "params_final.safetensors")
	if !fileExists(path) {
		return
	}
	ref, err := fixture.ReadTensors(path)
	if err != nil {
		r.row(check, 0, 0, err)
		return
	}
	worst := 0.0
	var errs []error
	for _, p := range params {
		want, ok := ref["final/"+p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no final/%s", path, p.Name))
			continue
		}
		got, err := r.b.ToFloat32(p.Param.T)
		if err != nil {
			errs = append(errs, fmt.Errorf("download %s: %w", p.Name, err))
			continue
		}
		d, err := maxAbsDiff(got, want.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		if d > paramAbsTol {
			errs = append(errs, fmt.Errorf("%s: max |ours − PEFT's| = %.3g exceeds %.3g", p.Name, d, paramAbsTol))
		}
		worst = max(worst, d)
	}
	r.row(check, worst, paramAbsTol, errors.Join(errs...))
}

// checkTrainedAdapter saves the trained adapter and compares it with PEFT's
// train/adapter: the same keys and shapes, values within paramAbsTol, and
// the same targets in adapter_config.json.
func (r *caseRun) checkTrainedAdapter(pm *ia3.Model) {
	const check = "train adapter"
	theirs := r.c.path("train", "adapter", ia3.WeightsFile)
	if !fileExists(theirs) {
		return
	}
	dir := filepath.Join(r.scratch, "train_adapter")
	if err := pm.SavePretrained(dir); err != nil {
		r.row(check, 0, 0, fmt.Errorf("save: %w", err))
		return
	}
	want, err := fixture.ReadTensors(theirs)
	if err != nil {
		r.row(check, 0, 0, err)
		return
	}
	got, err := fixture.ReadTensors(filepath.Join(dir, ia3.WeightsFile))
	if err != nil {
		r.row(check, 0, 0, err)
		return
	}
	worst := 0.0
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s missing from our save", k))
			continue
		}
		w := want[k]
		if !slices.Equal(g.Shape, w.Shape) {
			errs = append(errs, fmt.Errorf("%s: shape %v, PEFT's %v", k, g.Shape, w.Shape))
			continue
		}
		d, _ := maxAbsDiff(g.Data, w.Data)
		if d > paramAbsTol {
			errs = append(errs, fmt.Errorf("%s: max |ours − PEFT's| = %.3g exceeds %.3g", k, d, paramAbsTol))
		}
		worst = max(worst, d)
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			errs = append(errs, fmt.Errorf("%s saved by us, not by PEFT", k))
		}
	}
	if err := sameAdapterConfig(filepath.Dir(theirs), dir); err != nil {
		errs = append(errs, err)
	}
	r.row(check, worst, paramAbsTol, errors.Join(errs...))
}

// modulesKey renders a module selection for comparison: PEFT keeps name
// lists as sets (their order in a file is Python's set order), so lists
// are sorted; a regex stays as written.
func modulesKey(m ia3.Modules) string {
	switch {
	case !m.IsSet():
		return "None"
	case m.IsPattern():
		return "regex " + m.Regex()
	}
	return fmt.Sprintf("%q", slices.Sorted(slices.Values(m.List())))
}

// sameAdapterConfig compares the adapter_config.json fields that decide
// what an adapter applies to: target, feed-forward and saved modules, and
// the task type.
func sameAdapterConfig(wantDir, gotDir string) error {
	want, err := ia3.LoadConfig(wantDir)
	if err != nil {
		return err
	}
	got, err := ia3.LoadConfig(gotDir)
	if err != nil {
		return fmt.Errorf("our saved config: %w", err)
	}
	var errs []error
	for _, f := range []struct {
		field     string
		got, want any
	}{
		{"target_modules", modulesKey(got.TargetModules), modulesKey(want.TargetModules)},
		{"feedforward_modules", modulesKey(got.FeedforwardModules), modulesKey(want.FeedforwardModules)},
		{"modules_to_save", fmt.Sprint(got.ModulesToSave), fmt.Sprint(want.ModulesToSave)},
		{"task_type", got.TaskType, want.TaskType},
	} {
		if f.got != f.want {
			errs = append(errs, fmt.Errorf("adapter_config.json %s: ours %v, PEFT's %v", f.field, f.got, f.want))
		}
	}
	return errors.Join(errs...)
}
