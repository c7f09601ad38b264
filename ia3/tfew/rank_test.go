package tfew

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

// loadAdapted loads fixture case name on b with its PEFT adapter "a"
// (trained, non-trivial vectors), trainable.
func loadAdapted(t *testing.T, b backend.Backend, name string) (*model.Model, *ia3.Model) {
	t.Helper()
	c := modeltest.NamedCase(t, name)
	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	pm, err := ia3.FromPretrained(base, filepath.Join(c.Dir, "adapters", "a"), "a", true)
	require.NoError(t, err)
	return base, pm
}

// randomExample draws a prompt of 5 tokens and 3 choices of 1 to 4 tokens.
func randomExample(r *rand.Rand, vocab int) Example {
	ids := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(r.IntN(vocab))
		}
		return out
	}
	return Example{Input: ids(5), Choices: [][]int32{ids(3), ids(1), ids(4)}, Label: 2}
}

// forwardChoice runs m on one choice alone (a batch of one, no padding),
// as `ia3 forward` would, and returns the float64 logits of the rows that
// predict the choice's tokens.
func forwardChoice(t *testing.T, m *model.Model, ex Example, c int) choiceLogits {
	t.Helper()
	cfg := m.Config()
	ch := ex.Choices[c]
	var in *model.Inputs
	first := 0
	if cfg.TaskType == model.TaskSeq2SeqLM {
		in = &model.Inputs{Batch: 1, Seq: len(ex.Input), InputIDs: ex.Input, DecoderSeq: len(ch), Labels: ch}
	} else {
		ids := append(append([]int32(nil), ex.Input...), ch...)
		in = &model.Inputs{Batch: 1, Seq: len(ids), InputIDs: ids}
		first = len(ex.Input) - 1
	}
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	logits := m.Forward(g, in)
	require.NoError(t, g.Err())
	v := download(t, m.Backend(), logits.T)
	V := cfg.VocabSize
	var out choiceLogits
	for i := range ch {
		row := make([]float64, V)
		for j := range row {
			row[j] = float64(v[(first+i)*V+j])
		}
		out.logits = append(out.logits, row)
		out.targets = append(out.targets, int(ch[i]))
	}
	return out
}

// TestRankClassificationMatchesForward: on the gpt2 and t5 fixtures with a
// trained adapter, each choice's score equals the log-likelihood computed
// in float64 from the logits of a forward pass over that choice alone, the
// pick is the best of those, and the losses equal the float64 reference
// on the same logits.
func TestRankClassificationMatchesForward(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) { checkRank(t, d.open(t)) })
	}
}

func checkRank(t *testing.T, b backend.Backend) {
	for _, name := range []string{"gpt2", "t5"} {
		t.Run(name, func(t *testing.T) {
			base, _ := loadAdapted(t, b, name)
			r := rand.New(rand.NewPCG(11, 12))
			for trial := range 3 {
				ex := randomExample(r, base.Config().VocabSize)
				cs := make([]choiceLogits, len(ex.Choices))
				want := make([]float64, len(ex.Choices))
				best, bestMean := -1, math.Inf(-1)
				for c := range ex.Choices {
					cs[c] = forwardChoice(t, base, ex, c)
					for i, row := range cs[c].logits {
						want[c] += logSoftmax(row, cs[c].targets[i])
					}
					if m := want[c] / float64(len(ex.Choices[c])); m > bestMean {
						best, bestMean = c, m
					}
				}
				pick, scores, err := Predict(base, ex)
				require.NoError(t, err)
				require.Len(t, scores, len(ex.Choices))
				for c, s := range scores {
					assert.Equal(t, len(ex.Choices[c]), s.Tokens)
					assert.InDelta(t, want[c], s.LogLik, 1e-4*math.Max(1, math.Abs(want[c])), "trial %d choice %d", trial, c)
				}
				assert.Equal(t, best, pick, "trial %d", trial)

				lm, ul, ln, total := refLosses(cs, ex.Label, DefaultWeights())
				g := nn.NewGraph(b, false)
				ls := Loss(g, base, ex, DefaultWeights())
				require.NoError(t, g.Err())
				for _, c := range []struct {
					name string
					v    *nn.Value
					want float64
				}{{"lm", ls.LM, lm}, {"ul", ls.UL, ul}, {"ln", ls.LN, ln}, {"total", ls.Total, total}} {
					assert.InDelta(t, c.want, download(t, b, c.v.T)[0], 1e-4*math.Max(1, math.Abs(c.want)), "trial %d %s", trial, c.name)
				}
				g.Release()
			}
		})
	}
}

// TestLossGradientReachesAdapter: through a real model, the gradient of
// the total loss with respect to the adapter's vectors matches a central
// finite difference along a random direction (the losses' own
// gradients are checked exactly in TestLossesMatchFloat64Reference).
func TestLossGradientReachesAdapter(t *testing.T) {
	b := openCPU(t)
	for _, name := range []string{"gpt2", "t5"} {
		t.Run(name, func(t *testing.T) {
			base, pm := loadAdapted(t, b, name)
			r := rand.New(rand.NewPCG(21, 22))
			ex := randomExample(r, base.Config().VocabSize)
			params := pm.TrainableParams()
			require.NotEmpty(t, params)

			g := nn.NewGraph(b, true)
			ls := Loss(g, base, ex, DefaultWeights())
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(ls.Total))
			orig := make([][]float32, len(params))
			dirs := make([][]float32, len(params))
			analytic := 0.0
			for i, p := range params {
				orig[i] = download(t, b, p.Param.T)
				gr := download(t, b, g.ParamGrad(p.Param))
				dirs[i] = make([]float32, len(orig[i]))
				for j := range dirs[i] {
					dirs[i][j] = float32(r.NormFloat64())
					analytic += float64(dirs[i][j]) * float64(gr[j])
				}
			}
			g.Release()

			lossAt := func(h float64) float64 {
				for i, p := range params {
					v := make([]float32, len(orig[i]))
					for j := range v {
						v[j] = orig[i][j] + float32(h)*dirs[i][j]
					}
					x, err := b.FromFloat32(v, p.Param.T.Shape()...)
					require.NoError(t, err)
					b.Free(p.Param.T)
					p.Param.T = x
				}
				g := nn.NewGraph(b, false)
				defer g.Release()
				ls := Loss(g, base, ex, DefaultWeights())
				require.NoError(t, g.Err())
				return float64(download(t, b, ls.Total.T)[0])
			}
			// The direction is not normalised (|d| ≈ √n): a small step keeps the
			// central difference's h² error (and T5's ReLU kinks) away, while
			// float32 rounding still costs only ~1e-4 relative.
			const h = 1e-3
			numeric := (lossAt(h) - lossAt(-h)) / (2 * h)
			lossAt(0)
			assert.InDelta(t, numeric, analytic, 1e-3*math.Max(1, math.Abs(numeric)), "directional derivative")
		})
	}
}
