package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// fixtureRun is a fixture case's model with the default adapter attached
// and its inputs.
type fixtureRun struct {
	base   *model.Model
	pm     *ia3.Model
	in     *model.Inputs
	params []ia3.NamedParam
}

// loadFixture loads case name on b with PEFT's default adapter.
func loadFixture(t *testing.T, b backend.Backend, name string) fixtureRun {
	t.Helper()
	return loadFixtureWith(t, b, name, func(*ia3.Config) {})
}

// loadFixtureWith is loadFixture with the adapter config changed by edit.
func loadFixtureWith(t *testing.T, b backend.Backend, name string, edit func(*ia3.Config)) fixtureRun {
	t.Helper()
	c := modeltest.NamedCase(t, name)
	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	cfg := ia3.NewConfig()
	cfg.TaskType = c.Meta.TaskType
	edit(cfg)
	pm, err := ia3.New(base, cfg, ia3.DefaultAdapter)
	require.NoError(t, err)
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
}

// stepperFor returns a stepper over the run's trainable parameters.
func stepperFor(t *testing.T, b backend.Backend, r fixtureRun, clip float64) *stepper {
	t.Helper()
	opt, err := NewOptimizer(b, r.params, DefaultAdamW())
	require.NoError(t, err)
	t.Cleanup(opt.Free)
	s := &stepper{b: b, base: r.base, opt: opt, clip: clip}
	t.Cleanup(s.reset)
	return s
}

// reducedGrads runs the micro-batches and returns the reduced gradients.
func reducedGrads(t *testing.T, b backend.Backend, s *stepper, ins ...*model.Inputs) ([][]float32, stepStats) {
	t.Helper()
	for _, in := range ins {
		require.NoError(t, s.accumulate(in))
	}
	st, err := s.reduce()
	require.NoError(t, err)
	out := make([][]float32, len(s.acc))
	for i, a := range s.acc {
		out[i], err = b.ToFloat32(a)
		require.NoError(t, err)
	}
	s.reset()
	return out, st
}

// TestFrozenWeightsGetNoGradient checks, for every fixture case, that
// backward gives gradients to exactly the trainable parameters.
func TestFrozenWeightsGetNoGradient(t *testing.T) {
	b := openCPU(t)
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			r := loadFixture(t, b, c.Name)
			trainable := map[*nn.Param]bool{}
			for _, p := range r.params {
				trainable[p.Param] = true
			}
			g := nn.NewGraph(b, true)
			defer g.Release()
			loss := r.base.Loss(g, r.in)
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(loss))
			for _, p := range r.base.Params() {
				if trainable[p] {
					assert.NotNil(t, g.ParamGrad(p), "trainable %s", p.Name)
				} else {
					assert.Nil(t, g.ParamGrad(p), "frozen %s got a gradient", p.Name)
				}
			}
			for _, p := range r.params {
				assert.NotNil(t, g.ParamGrad(p.Param), "trainable %s", p.Name)
			}
		})
	}
}

// TestGradientClipping checks torch's clip_grad_norm_: gradients scale by
// max_norm/(norm+1e-6) when the norm exceeds max_norm, else stay.
func TestGradientClipping(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) { checkClipping(t, d.open(t)) })
	}
}

func checkClipping(t *testing.T, b backend.Backend) {
	r := loadFixture(t, b, "gpt2")
	plain, _ := reducedGrads(t, b, stepperFor(t, b, r, 0), r.in)
	norm := 0.0
	for _, g := range plain {
		for _, x := range g {
			norm += float64(x) * float64(x)
		}
	}
	norm = math.Sqrt(norm)
	for _, tc := range []struct {
		name  string
		clip  float64
		scale float64
	}{
		{"clipped", norm / 4, (norm / 4) / (norm + 1e-6)},
		{"under the limit", norm * 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st := reducedGrads(t, b, stepperFor(t, b, r, tc.clip), r.in)
			assert.InDelta(t, norm, st.GradNorm, 1e-5*norm)
			for i := range got {
				for j := range got[i] {
					require.InDelta(t, float64(plain[i][j])*tc.scale, got[i][j], 1e-6*norm, "%s[%d]", r.params[i].Name, j)
				}
			}
		})
	}
}

// TestGradientAccumulation checks that two micro-batches of half a
// classification batch give the full batch's mean gradient and loss.
func TestGradientAccumulation(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) { checkAccumulation(t, d.open(t)) })
	}
}

func checkAccumulation(t *testing.T, b backend.Backend) {
	r := loadFixture(t, b, "bert")
	require.Zero(t, r.in.Batch%2, "the fixture batch must split in halves")
	whole, wst := reducedGrads(t, b, stepperFor(t, b, r, 0), r.in)
	half := func(i int) *model.Inputs {
		h := r.in.Batch / 2
		n := h * r.in.Seq
		rows := func(v []int32) []int32 {
			if v == nil {
				return nil
			}
			return v[i*n : (i+1)*n]
		}
		return &model.Inputs{Batch: h, Seq: r.in.Seq, InputIDs: rows(r.in.InputIDs), AttentionMask: rows(r.in.AttentionMask),
			TokenTypeIDs: rows(r.in.TokenTypeIDs), Labels: r.in.Labels[i*h : (i+1)*h]}
	}
	acc, ast := reducedGrads(t, b, stepperFor(t, b, r, 0), half(0), half(1))
	assert.InDelta(t, wst.Loss, ast.Loss, 1e-5*math.Abs(wst.Loss))
	for i := range whole {
		tol := 1e-4 * math.Max(1e-3, maxAbs(whole[i]))
		assert.LessOrEqual(t, maxDiff(whole[i], acc[i]), tol, r.params[i].Name)
	}
}

// TestWholeModelGradients checks the gradients of the (IA)³ vectors (and
// the classification head) of a tiny model of each family against
// central finite differences of the model's loss, with vectors drawn
// around 1 so that every path is exercised.
func TestWholeModelGradients(t *testing.T) {
	b := openCPU(t)
	for _, name := range []string{"gpt2", "llama", "t5", "bert"} {
		t.Run(name, func(t *testing.T) { checkFiniteDifferences(t, b, loadFixture(t, b, name)) })
	}
}

// checkFiniteDifferences compares the run's analytic gradients of its
// trainable parameters, moved randomly around their values, with central
// finite differences of the model's loss at a few entries of each.
func checkFiniteDifferences(t *testing.T, b backend.Backend, r fixtureRun) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	values := make([][]float32, len(r.params))
	set := func(i int) {
		nt, err := b.FromFloat32(values[i], r.params[i].Param.T.Shape()...)
		require.NoError(t, err)
		b.Free(r.params[i].Param.T)
		r.params[i].Param.T = nt
	}
	for i, p := range r.params {
		v, err := b.ToFloat32(p.Param.T)
		require.NoError(t, err)
		for j := range v {
			v[j] += float32(0.3 * rng.NormFloat64())
		}
		values[i] = v
		set(i)
	}
	analytic, _ := reducedGrads(t, b, stepperFor(t, b, r, 0), r.in)
	loss := func() float64 {
		l, err := batchLoss(b, r.base, r.in)
		require.NoError(t, err)
		return l
	}
	const h = 1e-2
	for i, p := range r.params {
		scale := maxAbs(analytic[i])
		n := len(values[i])
		for _, j := range []int{0, n / 3, n / 2, n - 1} {
			x := values[i][j]
			values[i][j] = x + h
			set(i)
			fp := loss()
			values[i][j] = x - h
			set(i)
			fm := loss()
			values[i][j] = x
			set(i)
			num := (fp - fm) / (2 * h)
			tol := 2e-2*math.Abs(num) + 2e-3*scale + 1e-4
			assert.InDelta(t, num, analytic[i][j], tol, "d loss / d %s[%d]", p.Name, j)
		}
	}
}

// TestClassificationEvalMatchesModelLoss checks that the evaluation's
// host-side cross-entropy equals the model's own loss on a batch.
func TestClassificationEvalMatchesModelLoss(t *testing.T) {
	b := openCPU(t)
	for _, name := range []string{"bert", "roberta"} {
		t.Run(name, func(t *testing.T) {
			r := loadFixture(t, b, name)
			want, err := batchLoss(b, r.base, r.in)
			require.NoError(t, err)
			sum, correct, err := classifyBatch(b, r.base, r.in, false)
			require.NoError(t, err)
			assert.InDelta(t, want, sum/float64(r.in.Batch), 1e-5*math.Abs(want))
			assert.GreaterOrEqual(t, correct, 0)
			assert.LessOrEqual(t, correct, r.in.Batch)
		})
	}
}

// TestRegressionLoss checks the model's loss with num_labels 1 is the
// mean squared error, as transformers computes it, against the logits.
func TestRegressionLoss(t *testing.T) {
	b := openCPU(t)
	cfg, err := model.ConfigFromMap(map[string]any{"model_type": "bert", "architectures": []any{"BertForSequenceClassification"},
		"vocab_size": 64.0, "hidden_size": 16.0, "num_hidden_layers": 1.0, "num_attention_heads": 2.0, "intermediate_size": 32.0,
		"max_position_embeddings": 16.0, "num_labels": 1.0})
	require.NoError(t, err)
	base, err := model.NewRandom(cfg, b, 5)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	in := &model.Inputs{Batch: 2, Seq: 3, InputIDs: []int32{1, 2, 3, 4, 5, 0}, AttentionMask: []int32{1, 1, 1, 1, 1, 0},
		LabelsFloat: []float32{0.5, -1.25}}
	want, err := batchLoss(b, base, in)
	require.NoError(t, err)
	sum, _, err := classifyBatch(b, base, in, true)
	require.NoError(t, err)
	assert.InDelta(t, want, sum/2, 1e-6*math.Max(1, want))
	assert.Greater(t, want, 0.1, "a random model should be far from the targets")
}
