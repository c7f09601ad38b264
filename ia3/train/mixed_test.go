package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// loadTwoAdapters loads fixture case name on b with two adapters, "default"
// and "other", both with random (init_ia3_weights false) vectors, so that a
// mixed batch really differs per row.
func loadTwoAdapters(t *testing.T, b backend.Backend, name string, other ...func(*ia3.Config)) (*model.Model, *ia3.Model, *model.Inputs) {
	t.Helper()
	random := func(c *ia3.Config) { c.InitIA3Weights = false }
	r := loadFixtureWith(t, b, name, random)
	cfg := ia3.NewConfig()
	cfg.TaskType = r.pm.Config(ia3.DefaultAdapter).TaskType
	random(cfg)
	for _, f := range other {
		f(cfg)
	}
	require.NoError(t, r.pm.AddAdapter("other", cfg))
	require.GreaterOrEqual(t, r.in.Batch, 2, "the fixture batch must hold two samples")
	return r.base, r.pm, r.in
}

// samples returns samples s to s+n-1 of in as a batch of n.
func samples(in *model.Inputs, s, n int) *model.Inputs {
	cut := func(v []int32, batch int) []int32 {
		if v == nil {
			return nil
		}
		per := len(v) / batch
		return v[s*per : (s+n)*per]
	}
	return &model.Inputs{
		Batch: n, Seq: in.Seq, DecoderSeq: in.DecoderSeq,
		InputIDs:        cut(in.InputIDs, in.Batch),
		AttentionMask:   cut(in.AttentionMask, in.Batch),
		PositionIDs:     cut(in.PositionIDs, in.Batch),
		TokenTypeIDs:    cut(in.TokenTypeIDs, in.Batch),
		DecoderInputIDs: cut(in.DecoderInputIDs, in.Batch),
		Labels:          cut(in.Labels, in.Batch),
	}
}

// stepResult is what one optimiser step leaves: each parameter's gradient
// and updated value, by parameter name.
type stepResult struct{ grads, params map[string][]float32 }

// optimiserStep runs loss backward and one AdamW step over the model's
// trainable parameters, returning gradients and updated values.
func optimiserStep(t *testing.T, b backend.Backend, pm *ia3.Model, loss func(g *nn.Graph) *nn.Value) stepResult {
	t.Helper()
	params := pm.TrainableParams()
	opt, err := NewOptimizer(b, params, DefaultAdamW())
	require.NoError(t, err)
	defer opt.Free()
	g := nn.NewGraph(b, true)
	defer g.Release()
	l := loss(g)
	require.NoError(t, g.Err())
	require.NoError(t, g.Backward(l))
	res := stepResult{grads: map[string][]float32{}, params: map[string][]float32{}}
	grads := make([]backend.Tensor, len(params))
	for i, p := range params {
		grads[i] = g.ParamGrad(p.Param)
		require.NotNil(t, grads[i], "no gradient for %s", p.Name)
		res.grads[p.Name], err = b.ToFloat32(grads[i])
		require.NoError(t, err)
	}
	require.NoError(t, opt.Step(grads, 3e-3))
	for _, p := range params {
		res.params[p.Name], err = b.ToFloat32(p.Param.T)
		require.NoError(t, err)
	}
	return res
}

// TestMixedStepEqualsSeparateSteps: one optimiser step on a batch whose two
// samples train two adapters gives each adapter the gradients and updated
// vectors of a step on its own sample alone, causal and seq2seq, on every
// device.
func TestMixedStepEqualsSeparateSteps(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, name := range []string{"gpt2", "t5"} {
				t.Run(name, func(t *testing.T) { checkMixedStep(t, b, name, []string{ia3.DefaultAdapter, "other"}) })
			}
			// A row without an adapter runs the base model (a constant
			// row of ones in the stacked vectors) and trains nothing.
			t.Run("gpt2 with a plain row", func(t *testing.T) { checkMixedStep(t, b, "gpt2", []string{"", "other"}) })
			// "other" scales only c_attn's key and value outputs
			// (ia3_fused_kv_only): its stacked row is widened with ones
			// over the queries, which must get no gradient.
			kvOnly := func(c *ia3.Config) { c.FusedKVOnly = true }
			t.Run("gpt2 with a K/V-only adapter", func(t *testing.T) {
				checkMixedStep(t, b, "gpt2", []string{ia3.DefaultAdapter, "other"}, kvOnly)
			})
		})
	}
}

func checkMixedStep(t *testing.T, b backend.Backend, name string, adapters []string, other ...func(*ia3.Config)) {
	base, pm, in := loadTwoAdapters(t, b, name, other...)
	want := stepResult{grads: map[string][]float32{}, params: map[string][]float32{}}
	var trained []string
	for s, a := range adapters {
		if a == "" {
			continue
		}
		trained = append(trained, a)
		require.NoError(t, pm.SetAdapter(a))
		r := optimiserStep(t, b, pm, func(g *nn.Graph) *nn.Value { return base.Loss(g, samples(in, s, 1)) })
		for k, v := range r.grads {
			want.grads[k], want.params[k] = v, r.params[k]
		}
	}

	base2, pm2, _ := loadTwoAdapters(t, b, name, other...)
	require.NoError(t, pm2.SetAdapter(trained...))
	got := optimiserStep(t, b, pm2, func(g *nn.Graph) *nn.Value { return MixedLoss(g, base2, samples(in, 0, 2), adapters) })

	require.Len(t, got.grads, len(want.grads))
	for k, w := range want.grads {
		require.Contains(t, got.grads, k)
		scale := maxAbs(w) + 1e-6
		require.LessOrEqual(t, maxDiff(w, got.grads[k])/scale, 1e-4, "gradient of %s", k)
		require.LessOrEqual(t, maxDiff(want.params[k], got.params[k]), 1e-5, "updated %s", k)
	}
}

// TestMixedLossRefuses: bad adapter lists fail with an error naming the
// problem, never a panic.
func TestMixedLossRefuses(t *testing.T) {
	b := openCPU(t)
	base, _, in := loadTwoAdapters(t, b, "gpt2")
	two := samples(in, 0, 2)
	noLabels := samples(in, 0, 2)
	noLabels.Labels = []int32{model.IgnoreIndex}
	for _, c := range []struct {
		name     string
		in       *model.Inputs
		adapters []string
		want     string
	}{
		{"count", two, []string{ia3.DefaultAdapter}, "1 adapter names for a batch of 2"},
		{"unknown", two, []string{ia3.DefaultAdapter, "zzz"}, `"zzz"`},
		{"labels", noLabels, []string{ia3.DefaultAdapter, "other"}, "1 labels do not split into 2 samples"},
		{"nil", nil, nil, "nil model or inputs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := nn.NewGraph(b, true)
			defer g.Release()
			require.Nil(t, MixedLoss(g, base, c.in, c.adapters))
			require.ErrorContains(t, g.Err(), c.want)
		})
	}
}

// TestRunMixedAdapters trains two adapters in one run on their own files:
// each is saved in its own directory, each lowers the loss on its own data
// against the base model, and bad mixed options are refused.
func TestRunMixedAdapters(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	dataA := writeJSONL(t, textLines(8)...)
	var linesB []string
	for i := range 8 {
		linesB = append(linesB, fmt.Sprintf(`{"prompt": "count %d:", "completion": " %d %d %d"}`, i, i, i+1, i+2))
	}
	dataB := writeJSONL(t, linesB...)
	out := t.TempDir()
	mixed := []AdapterData{{Name: "prose", TrainFile: dataA}, {Name: "count", TrainFile: dataB}}
	res, err := Run(context.Background(), Options{ModelDir: dir, Mixed: mixed, OutDir: out, Backend: b,
		MaxSteps: 6, BatchSize: 4, LR: 0.05, NoPlot: true, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, 16, res.TrainExamples)
	require.Len(t, res.Losses, 6)
	assert.Less(t, res.Losses[5], res.Losses[0], "loss should fall")
	// A second run into the same directory replaces both adapters.
	res2, err := Run(context.Background(), Options{ModelDir: dir, Mixed: mixed, OutDir: out, Backend: b,
		MaxSteps: 6, BatchSize: 4, LR: 0.05, NoPlot: true, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, res.Losses, res2.Losses, "the same run again")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"prose", "count"}, names, "no temporary left")
	for _, a := range mixed {
		adir := filepath.Join(out, a.Name)
		require.FileExists(t, filepath.Join(adir, ia3.WeightsFile))
		tuned, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, AdapterDir: adir, DataFile: a.TrainFile, Backend: b})
		require.NoError(t, err)
		plain, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: a.TrainFile, Backend: b})
		require.NoError(t, err)
		assert.Less(t, tuned.Loss, plain.Loss, "adapter %s on its own data", a.Name)
	}

	for _, c := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"one", func(o *Options) { o.Mixed = mixed[:1] }, "at least two adapters"},
		{"twice", func(o *Options) { o.Mixed = []AdapterData{mixed[0], mixed[0]} }, `"prose" given twice`},
		{"path", func(o *Options) { o.Mixed = []AdapterData{mixed[0], {Name: "../x", TrainFile: dataB}} }, "must not be a path"},
		{"train file", func(o *Options) { o.TrainFile = dataA }, "not both"},
		{"eval", func(o *Options) { o.EvalFraction = 0.5 }, "no evaluation yet"},
		{"recipe", func(o *Options) { o.Recipe = RecipeTFew }, "not the t-few recipe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{ModelDir: dir, Mixed: mixed, OutDir: t.TempDir(), Backend: b, MaxSteps: 1}
			c.edit(&o)
			_, err := Run(context.Background(), o)
			require.ErrorContains(t, err, c.want)
		})
	}
}
