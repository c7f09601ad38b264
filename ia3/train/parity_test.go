package train

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestTrajectoryParity runs every fixture case's train spec (AdamW, 5
// steps on its inputs, vectors initialised to ones, the classification
// head trained too) on every device and compares the losses, the step-0
// gradients, the final parameters and the saved adapter with PEFT's.
func TestTrajectoryParity(t *testing.T) {
	cases := modeltest.Cases(t)
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) { checkTrajectory(t, b, c) })
			}
		})
	}
}

func checkTrajectory(t *testing.T, b backend.Backend, c modeltest.Case) {
	spec := readTrainSpec(t, c.Dir)
	require.Equal(t, "AdamW", spec.Optimizer)
	require.Equal(t, "constant", spec.Schedule)
	require.Nil(t, spec.GradClip)
	require.Len(t, spec.Betas, 2)

	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	pm, params, in, s := fixtureStepper(t, b, c, base, spec)
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	assert.ElementsMatch(t, spec.Trainable, names, "trainable parameters")

	grads0, err := modeltest.ReadTensors(filepath.Join(c.Dir, "train", "grads_step0.safetensors"))
	require.NoError(t, err)
	var losses []float64
	for step := range spec.Steps {
		require.NoError(t, s.accumulate(in), "step %d", step)
		if step == 0 {
			for i, p := range params {
				ref, ok := grads0["grad0/"+p.Name]
				require.True(t, ok, "no reference gradient for %s", p.Name)
				got, err := b.ToFloat32(s.acc[i])
				require.NoError(t, err)
				require.Len(t, got, len(ref.Data), p.Name)
				tol := 1e-4 * math.Max(1e-3, maxAbs(ref.Data))
				assert.LessOrEqual(t, maxDiff(got, ref.Data), tol, "step-0 gradient of %s", p.Name)
			}
		}
		st, err := s.finish(spec.LR)
		require.NoError(t, err, "step %d", step)
		losses = append(losses, st.Loss)
	}
	require.Len(t, losses, len(spec.Losses))
	for i, want := range spec.Losses {
		assert.InDelta(t, want, losses[i], 1e-4*math.Abs(want), "loss of step %d", i)
	}

	final, err := modeltest.ReadTensors(filepath.Join(c.Dir, "train", "params_final.safetensors"))
	require.NoError(t, err)
	for _, p := range params {
		ref, ok := final["final/"+p.Name]
		require.True(t, ok, "no reference final value for %s", p.Name)
		got, err := b.ToFloat32(p.Param.T)
		require.NoError(t, err)
		require.Len(t, got, len(ref.Data), p.Name)
		assert.LessOrEqual(t, maxDiff(got, ref.Data), 1e-4, "final value of %s", p.Name)
	}

	out := t.TempDir()
	require.NoError(t, pm.SavePretrained(out))
	assertSameAdapter(t, filepath.Join(c.Dir, "train", "adapter"), out, 1e-4)
}

// fixtureStepper attaches the default adapter for case c to base and
// returns it with its trainable parameters, the case's inputs and a
// stepper over the AdamW of the case's train spec.
func fixtureStepper(t *testing.T, b backend.Backend, c modeltest.Case, base *model.Model, spec trainSpec) (*ia3.Model, []ia3.NamedParam, *model.Inputs, *stepper) {
	t.Helper()
	cfg := ia3.NewConfig()
	cfg.TaskType = c.Meta.TaskType
	pm, err := ia3.New(base, cfg, ia3.DefaultAdapter)
	require.NoError(t, err)
	params := pm.TrainableParams()
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	opt, err := NewOptimizer(b, params, AdamW{Beta1: spec.Betas[0], Beta2: spec.Betas[1], Eps: spec.Eps, WeightDecay: spec.WeightDecay})
	require.NoError(t, err)
	t.Cleanup(opt.Free)
	return pm, params, in, &stepper{b: b, base: base, opt: opt}
}

// assertSameAdapter checks that two adapter directories hold the same
// keys, shapes and (within tol) values.
func assertSameAdapter(t *testing.T, wantDir, gotDir string, tol float64) {
	t.Helper()
	want, err := modeltest.ReadTensors(filepath.Join(wantDir, ia3.WeightsFile))
	require.NoError(t, err)
	got, err := modeltest.ReadTensors(filepath.Join(gotDir, ia3.WeightsFile))
	require.NoError(t, err)
	require.ElementsMatch(t, keys(want), keys(got), "adapter keys")
	for k, w := range want {
		g := got[k]
		require.Equal(t, w.Shape, g.Shape, "shape of %s", k)
		assert.LessOrEqual(t, maxDiff(g.Data, w.Data), tol, "values of %s", k)
	}
	wc, err := ia3.LoadConfig(wantDir)
	require.NoError(t, err)
	gc, err := ia3.LoadConfig(gotDir)
	require.NoError(t, err)
	// PEFT writes these lists from Python sets: their order is arbitrary.
	assert.ElementsMatch(t, wc.TargetModules.List(), gc.TargetModules.List(), "target_modules")
	assert.ElementsMatch(t, wc.FeedforwardModules.List(), gc.FeedforwardModules.List(), "feedforward_modules")
	assert.Equal(t, wc.ModulesToSave, gc.ModulesToSave, "modules_to_save")
	assert.Equal(t, wc.TaskType, gc.TaskType, "task_type")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
