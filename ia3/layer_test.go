package ia3

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
	"github.com/ia3/ia3/model/nn"
)

// cpu opens the CPU backend for a test.
func cpu(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// upload puts values on b or fails the test.
func upload(t *testing.T, b backend.Backend, v []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromFloat32(v, shape...)
	require.NoError(t, err)
	return x
}

func download(t *testing.T, b backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	v, err := b.ToFloat32(x)
	require.NoError(t, err)
	return v
}

func randVec(r *rand.Rand, n int, scale, offset float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(offset + scale*r.NormFloat64())
	}
	return v
}

// denseLayer is a Linear with random weights held on b, and its values.
type denseLayer struct {
	lin     *nn.Linear
	w, bias []float32 // w as stored: (out, in), or (in, out) for Conv1D
}

func newDense(t *testing.T, b backend.Backend, r *rand.Rand, name string, in, out int, fifo bool) denseLayer {
	d := denseLayer{w: randVec(r, in*out, 0.5, 0), bias: randVec(r, out, 0.5, 0)}
	shape := []int{out, in}
	if fifo {
		shape = []int{in, out}
	}
	d.lin = &nn.Linear{In: in, Out: out, FanInFanOut: fifo,
		Weight: &nn.Param{Name: name + ".weight", T: upload(t, b, d.w, shape...)},
		Bias:   &nn.Param{Name: name + ".bias", T: upload(t, b, d.bias, out)}}
	return d
}

// weight returns W[o][i] whatever the storage layout.
func (d denseLayer) weight(o, i int) float64 {
	if d.lin.FanInFanOut {
		return float64(d.w[i*d.lin.Out+o])
	}
	return float64(d.w[o*d.lin.In+i])
}

// reference computes ((x ⊙ inScale)·Wᵀ + b) ⊙ outScale in float64 for rows
// of x; nil scales are ones.
func (d denseLayer) reference(x []float32, inScale, outScale []float64) []float64 {
	in, out := d.lin.In, d.lin.Out
	rows := len(x) / in
	y := make([]float64, rows*out)
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			s := float64(d.bias[o])
			for i := 0; i < in; i++ {
				xi := float64(x[r*in+i])
				if inScale != nil {
					xi *= inScale[i]
				}
				s += xi * d.weight(o, i)
			}
			if outScale != nil {
				s *= outScale[o]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func mul64(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] * b[i]
	}
	return out
}

func assertClose(t *testing.T, want []float64, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(want[i]-float64(got[i])))
	}
	assert.LessOrEqual(t, worst, tol, "%s: max |diff| %g", msg, worst)
}

// run applies the layer to x [rows, in] on a fresh graph.
func run(t *testing.T, b backend.Backend, lin *nn.Linear, x []float32, adapters []string) []float32 {
	t.Helper()
	g := nn.NewGraph(b, false)
	defer g.Release()
	g.Adapters = adapters
	y := g.Linear(g.Constant(upload(t, b, x, len(x)/lin.In, lin.In)), lin)
	require.NoError(t, g.Err())
	return download(t, b, y.T)
}

// setVector overwrites an adapter's vector in a layer.
func setVector(t *testing.T, m *Model, layer, adapter string, v []float32) {
	t.Helper()
	p := m.byName[layer].vectors[adapter]
	require.NotNil(t, p, "%s has no vector for %s", layer, adapter)
	m.b.Free(p.T)
	p.T = upload(t, m.b, v, len(v))
}

// oneLayerModel attaches adapter "a" to a model made of one dense layer.
func oneLayerModel(t *testing.T, b backend.Backend, d denseLayer, ff bool) *Model {
	t.Helper()
	mods := []nn.NamedModule{{Name: "", Module: &nn.Container{Class: "Toy"}}, {Name: "blk.proj", Module: d.lin}}
	cfg := NewConfig()
	cfg.TargetModules = Names("proj")
	cfg.FeedforwardModules = Names()
	if ff {
		cfg.FeedforwardModules = Names("proj")
	}
	m, err := newModel(baseInfo{modules: mods, modelType: "toy", taskType: TaskCausalLM}, b, nil, cfg, "a")
	require.NoError(t, err)
	require.NoError(t, m.AddAdapter("b", cfg))
	return m
}

// TestLayerSemantics checks the forward of an adapted layer against the
// formulas, for Linear and Conv1D storage, feed-forward or not: one
// adapter, two active adapters (vectors multiply), disabled, merged
// (plain matmul on the merged weight gives the adapted output) and
// unmerged (weights back within PEFT's 1e-8 guard).
func TestLayerSemantics(t *testing.T) {
	b := cpu(t)
	for _, tc := range []struct {
		name     string
		ff, fifo bool
	}{{"linear", false, false}, {"linear feedforward", true, false}, {"conv1d", false, true}, {"conv1d feedforward", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			d := newDense(t, b, r, "blk.proj", 5, 7, tc.fifo)
			m := oneLayerModel(t, b, d, tc.ff)
			n := 7
			if tc.ff {
				n = 5
			}
			la, lb := randVec(r, n, 0.3, 1), randVec(r, n, 0.3, 1)
			setVector(t, m, "blk.proj", "a", la)
			setVector(t, m, "blk.proj", "b", lb)
			x := randVec(r, 3*5, 1, 0)
			scaled := func(l []float64) []float64 {
				if tc.ff {
					return d.reference(x, l, nil)
				}
				return d.reference(x, nil, l)
			}
			plain := d.reference(x, nil, nil)

			assertClose(t, scaled(f64(la)), run(t, b, d.lin, x, nil), 1e-5, "adapter a")
			require.NoError(t, m.SetAdapter("a", "b"))
			assertClose(t, scaled(mul64(f64(la), f64(lb))), run(t, b, d.lin, x, nil), 1e-5, "a and b active")
			require.NoError(t, m.SetAdapter("b"))
			assertClose(t, scaled(f64(lb)), run(t, b, d.lin, x, nil), 1e-5, "adapter b")
			require.NoError(t, m.WithAdaptersDisabled(func() error {
				assertClose(t, plain, run(t, b, d.lin, x, nil), 1e-5, "disabled")
				return nil
			}))
			assertClose(t, scaled(f64(lb)), run(t, b, d.lin, x, nil), 1e-5, "enabled again")

			require.NoError(t, m.Merge(true, "a", "b"))
			assert.Equal(t, []string{"a", "b"}, m.byName["blk.proj"].Merged())
			assertClose(t, scaled(mul64(f64(la), f64(lb))), run(t, b, d.lin, x, nil), 1e-5, "merged a and b")
			require.NoError(t, m.Unmerge())
			assertClose(t, f64(d.w), download(t, b, d.lin.Weight.T), 1e-5, "unmerged weight")
			assertClose(t, f64(d.bias), download(t, b, d.lin.Bias.T), 1e-5, "unmerged bias")
			assertClose(t, scaled(f64(lb)), run(t, b, d.lin, x, nil), 1e-5, "after unmerge")
		})
	}
}

// TestSafeMergeRefusesBrokenAdapter: a vector with a non-finite entry is
// refused by name and nothing changes.
func TestSafeMergeRefusesBrokenAdapter(t *testing.T) {
	b := cpu(t)
	r := rand.New(rand.NewPCG(3, 4))
	d := newDense(t, b, r, "blk.proj", 4, 3, false)
	m := oneLayerModel(t, b, d, false)
	setVector(t, m, "blk.proj", "b", []float32{1, float32(math.Inf(1)), 1})
	err := m.Merge(true, "b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NaNs detected in the merged weights. The adapter b seems to be broken")
	assert.Empty(t, m.byName["blk.proj"].Merged())
	assert.Equal(t, d.w, download(t, b, d.lin.Weight.T))
	require.Error(t, m.Merge(false, "nope"))
}

// TestMixedBatch: a batch naming an adapter per sample equals running each
// sample alone with that adapter active ("" = no adapter), including an
// adapter missing from one layer.
func TestMixedBatch(t *testing.T) {
	b := cpu(t)
	r := rand.New(rand.NewPCG(5, 6))
	d1 := newDense(t, b, r, "blk.up", 4, 6, false)
	d2 := newDense(t, b, r, "blk.down", 6, 4, true)
	mods := []nn.NamedModule{{Name: "", Module: &nn.Container{Class: "Toy"}}, {Name: "blk.up", Module: d1.lin}, {Name: "blk.down", Module: d2.lin}}
	cfg := NewConfig()
	cfg.TargetModules = Names("up", "down")
	cfg.FeedforwardModules = Names("down")
	m, err := newModel(baseInfo{modules: mods, modelType: "toy", taskType: TaskCausalLM}, b, nil, cfg, "a")
	require.NoError(t, err)
	only := NewConfig()
	only.TargetModules = Names("up")
	only.FeedforwardModules = Names()
	require.NoError(t, m.AddAdapter("b", only))
	setVector(t, m, "blk.up", "a", randVec(r, 6, 0.3, 1))
	setVector(t, m, "blk.down", "a", randVec(r, 6, 0.3, 1))
	setVector(t, m, "blk.up", "b", randVec(r, 6, 0.3, 1))

	names := []string{"a", "", "b", "a"}
	const tokens = 3
	x := randVec(r, len(names)*tokens*4, 1, 0)
	forward := func(x []float32, adapters []string) []float32 {
		h := run(t, b, d1.lin, x, adapters)
		return run(t, b, d2.lin, h, adapters)
	}
	mixed := forward(x, names)
	per := tokens * 4
	for s, name := range names {
		xs := x[s*per : (s+1)*per]
		var want []float32
		if name == "" {
			require.NoError(t, m.WithAdaptersDisabled(func() error { want = forward(xs, nil); return nil }))
		} else {
			require.NoError(t, m.SetAdapter(name))
			want = forward(xs, nil)
		}
		assertClose(t, f64(want), mixed[s*tokens*4:(s+1)*tokens*4], 1e-6, "sample "+name)
	}

	g := nn.NewGraph(b, false)
	defer g.Release()
	g.Adapters = []string{"a", "zzz"}
	g.Linear(g.Constant(upload(t, b, make([]float32, 8), 2, 4)), d1.lin)
	require.Error(t, g.Err())
	assert.Contains(t, g.Err().Error(), `"zzz"`)
}

// TestVectorGradient: the active vector receives d(loss)/dl through the
// fused layer, as the trainer needs.
func TestVectorGradient(t *testing.T) {
	b := cpu(t)
	r := rand.New(rand.NewPCG(7, 8))
	d := newDense(t, b, r, "blk.proj", 3, 2, false)
	m := oneLayerModel(t, b, d, false)
	l := randVec(r, 2, 0.3, 1)
	setVector(t, m, "blk.proj", "a", l)
	x := randVec(r, 4*3, 1, 0)
	target := randVec(r, 4*2, 1, 0)

	params := m.TrainableParams()
	require.Len(t, params, 1)
	assert.Equal(t, "base_model.model.blk.proj.ia3_l.a", params[0].Name)

	g := nn.NewGraph(b, true)
	defer g.Release()
	y := g.Linear(g.Constant(upload(t, b, x, 4, 3)), d.lin)
	loss := g.MSE(y, g.Constant(upload(t, b, target, 4, 2)))
	require.NoError(t, g.Backward(loss))
	grad := download(t, b, g.ParamGrad(params[0].Param))

	z := d.reference(x, nil, nil)
	want := make([]float64, 2)
	for row := 0; row < 4; row++ {
		for o := 0; o < 2; o++ {
			i := row*2 + o
			want[o] += 2 * (z[i]*float64(l[o]) - float64(target[i])) * z[i] / 8
		}
	}
	assertClose(t, want, grad, 1e-5, "dL/dl")
}
