package tfew

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// choiceLogits is one choice's rows of logits (float64) and the token each
// row predicts: what the float64 reference reads.
type choiceLogits struct {
	logits  [][]float64
	targets []int
}

// logSoftmax returns log softmax(x)[y] in float64.
func logSoftmax(x []float64, y int) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - mx)
	}
	return x[y] - mx - math.Log(s)
}

// refLosses computes the three losses and their weighted total by hand in
// float64, as t-few's training_step does for one example.
func refLosses(cs []choiceLogits, label int, w Weights) (lm, ul, ln, total float64) {
	nll := make([]float64, len(cs))
	ulSum, ulN := 0.0, 0
	for c, ch := range cs {
		for i, row := range ch.logits {
			lp := logSoftmax(row, ch.targets[i])
			nll[c] -= lp
			if c != label {
				ulSum += math.Log(1 - math.Exp(lp) + 0.01)
				ulN++
			}
		}
		nll[c] /= float64(len(ch.logits))
	}
	lm = nll[label]
	neg := make([]float64, len(nll))
	for c, v := range nll {
		neg[c] = -v
	}
	ln = -logSoftmax(neg, label)
	if ulN > 0 {
		ul = -ulSum / float64(ulN)
	}
	return lm, ul, ln, w.LM*lm + w.UL*ul + w.LN*ln
}

func openCPU(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func download(t *testing.T, b backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	v, err := b.ToFloat32(x)
	require.NoError(t, err)
	return v
}

// tinyCase is a hand-sized example: 3 choices of 2, 1 and 3 tokens over a
// vocabulary of 5, laid out as a causal batch would be (rows of padding
// predicting nothing in between).
func tinyCase(r *rand.Rand) (*layout, []float64, int) {
	const vocab = 5
	l := &layout{
		targets: []int32{-100, 3, 1, -100, -100, 4, -100, -100, 0, 2, 2, -100},
		rows:    [][]int{{1, 2}, {5}, {8, 9, 10}},
	}
	logits := make([]float64, len(l.targets)*vocab)
	for i := range logits {
		logits[i] = float64(float32(2 * r.NormFloat64()))
	}
	return l, logits, vocab
}

// split returns each choice's rows of flat logits for the reference.
func split(l *layout, logits []float64, vocab int) []choiceLogits {
	cs := make([]choiceLogits, len(l.rows))
	for c, rows := range l.rows {
		for _, r := range rows {
			cs[c].logits = append(cs[c].logits, logits[r*vocab:(r+1)*vocab])
			cs[c].targets = append(cs[c].targets, int(l.targets[r]))
		}
	}
	return cs
}

// TestLossesMatchFloat64Reference: each loss and the weighted total equal
// the hand-computed float64 reference, and their gradients with respect to
// the logits equal central finite differences of that reference.
func TestLossesMatchFloat64Reference(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) { checkLosses(t, d.open(t), d.tol) })
	}
}

// device is a backend the loss tests run on, with the tolerance its
// float32 transcendentals allow (WGSL's exp and log are a few ULP).
type device struct {
	name string
	open func(t *testing.T) backend.Backend
	tol  float64
}

// devices lists the CPU backend and WebGPU (lavapipe here; skipped where
// no adapter exists, failing under IA3_REQUIRE_GPU=1).
func devices() []device {
	return []device{
		{"cpu", openCPU, 2e-6},
		{"webgpu", func(t *testing.T) backend.Backend { return webgputest.Open(t) }, 2e-5},
	}
}

func checkLosses(t *testing.T, b backend.Backend, tol float64) {
	for _, c := range []struct {
		name  string
		w     Weights
		label int
	}{
		{"paper", DefaultWeights(), 0},
		{"lm only", Weights{LM: 1}, 2},
		{"ul only", Weights{UL: 1}, 1},
		{"ln only", Weights{LN: 1}, 2},
		{"weighted", Weights{LM: 0.5, UL: 2, LN: 0.25}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, logits, vocab := tinyCase(rand.New(rand.NewPCG(3, uint64(c.label))))
			rows := len(l.targets)
			f32 := make([]float32, len(logits))
			for i, v := range logits {
				f32[i] = float32(v)
			}
			x, err := b.FromFloat32(f32, rows, vocab)
			require.NoError(t, err)
			p := &nn.Param{Name: "logits", T: x, Trainable: true}
			t.Cleanup(func() { b.Free(x) })
			g := nn.NewGraph(b, true)
			defer g.Release()
			ls := l.lossesOf(g, g.Param(p), c.label, c.w)
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(ls.Total))

			lm, ul, ln, total := refLosses(split(l, logits, vocab), c.label, c.w)
			for _, term := range []struct {
				name string
				v    *nn.Value
				w    float64
				want float64
			}{{"lm", ls.LM, c.w.LM, lm}, {"ul", ls.UL, c.w.UL, ul}, {"ln", ls.LN, c.w.LN, ln}, {"total", ls.Total, 1, total}} {
				if term.w == 0 {
					assert.Nil(t, term.v, term.name)
					continue
				}
				require.NotNil(t, term.v, term.name)
				assert.InDelta(t, term.want, download(t, b, term.v.T)[0], tol*math.Max(1, math.Abs(term.want)), term.name)
			}

			grad := download(t, b, g.ParamGrad(p))
			const h = 1e-5
			for i := range logits {
				orig := logits[i]
				logits[i] = orig + h
				_, _, _, up := refLosses(split(l, logits, vocab), c.label, c.w)
				logits[i] = orig - h
				_, _, _, down := refLosses(split(l, logits, vocab), c.label, c.w)
				logits[i] = orig
				assert.InDelta(t, (up-down)/(2*h), grad[i], tol, "d total / d logits[%d]", i)
			}
		})
	}
}

// TestSingleChoiceHasNoUnlikelihood: with one choice there is no incorrect
// token; UL is absent and the total is LM + LN (LN is then 0).
func TestSingleChoiceHasNoUnlikelihood(t *testing.T) {
	b := openCPU(t)
	l := &layout{targets: []int32{1, 2}, rows: [][]int{{0, 1}}}
	x, err := b.FromFloat32([]float32{0, 1, 2, 3, 2, 1}, 2, 3)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(x) })
	g := nn.NewGraph(b, false)
	defer g.Release()
	ls := l.lossesOf(g, g.Constant(x), 0, DefaultWeights())
	require.NoError(t, g.Err())
	assert.Nil(t, ls.UL)
	lm, _, ln, total := refLosses(split(l, []float64{0, 1, 2, 3, 2, 1}, 3), 0, DefaultWeights())
	assert.InDelta(t, 0, ln, 1e-12)
	assert.InDelta(t, lm, download(t, b, ls.LM.T)[0], 1e-6)
	assert.InDelta(t, total, download(t, b, ls.Total.T)[0], 1e-6)
}

// TestValidate names what is wrong with an example or weights.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		ex   Example
		want string
	}{
		{"no choices", Example{Input: []int32{1}}, "no answer choices"},
		{"label", Example{Input: []int32{1}, Choices: [][]int32{{1}}, Label: 1}, "label 1 is not a choice index [0, 1)"},
		{"empty choice", Example{Input: []int32{1}, Choices: [][]int32{{1}, {}}}, "choice 1 has no tokens"},
		{"vocab", Example{Input: []int32{1}, Choices: [][]int32{{1, 9}}}, "choice 0: token id 9 is outside the model's vocabulary (5)"},
		{"input vocab", Example{Input: []int32{-1}, Choices: [][]int32{{1}}}, "input: token id -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorContains(t, c.ex.Validate(5, true), c.want)
		})
	}
	for _, c := range []struct {
		w    Weights
		want string
	}{
		{Weights{}, "all zero"},
		{Weights{LM: -1}, "lm loss weight -1"},
		{Weights{UL: math.NaN()}, "ul loss weight NaN"},
		{Weights{LN: math.Inf(1)}, "ln loss weight +Inf"},
	} {
		require.ErrorContains(t, c.w.Validate(), c.want)
	}
	require.NoError(t, DefaultWeights().Validate())
	_, err := newLayout(&model.Config{TaskType: model.TaskSeqCls, Architecture: "BertForSequenceClassification"}, Example{Choices: [][]int32{{1}}})
	require.ErrorContains(t, err, "needs a causal LM or a seq2seq model")
}
