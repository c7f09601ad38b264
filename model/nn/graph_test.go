package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestTwoLayerComposite checks a miniature IA3 block end to end: a frozen
// Linear with trainable out and in vectors, LayerNorm, GELU, a frozen
// Linear with a trainable in vector, and cross-entropy.
func TestTwoLayerComposite(t *testing.T) {
	b := openCPU(t)
	vec := func(name string, n int) input {
		return input{name: name, shape: []int{n}, lo: 0.5, hi: 1.5, trainable: true}
	}
	c := gradCase{
		name: "composite",
		ins: []input{
			frozen("x", 2, 3, 4), frozen("fc1.weight", 6, 4), frozen("fc1.bias", 6), vec("s1", 6), vec("t1", 4),
			frozen("ln.weight", 6), frozen("ln.bias", 6), frozen("fc2.weight", 5, 6), vec("t2", 6),
		},
		build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			fc1 := &Linear{Weight: ps[1], Bias: ps[2], Adapter: &testAdapter{out: ps[3], in: ps[4]}}
			ln := &Norm{Class: "LayerNorm", Weight: ps[5], Bias: ps[6], Eps: 1e-5}
			fc2 := &Linear{Weight: ps[7], Adapter: &testAdapter{in: ps[8]}}
			h := g.Act(backend.GELUTanh, g.Norm(g.Linear(g.Param(ps[0]), fc1), ln))
			logits := g.Linear(h, fc2)
			return g.CrossEntropy(logits, constI32(t, g, []int32{0, 4, -100, 2, 1, 3}, 2, 3), -100)
		},
	}
	checkGrad(t, b, c)
}

func TestStickyError(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, true)
	defer g.Release()
	w := &Param{Name: "h.0.mlp.fc.weight", T: upload(t, b, make([]float32, 20), 4, 5)}
	x := g.Constant(upload(t, b, make([]float32, 6), 2, 3))

	y := g.Linear(x, &Linear{Weight: w})
	assert.Nil(t, y)
	require.Error(t, g.Err())
	first := g.Err()
	assert.Contains(t, first.Error(), "linear h.0.mlp.fc.weight")
	assert.Contains(t, first.Error(), "[2 3]")

	// Later operations do nothing and keep the first error.
	assert.Nil(t, g.Add(y, y))
	assert.Nil(t, g.Affine(x, 1, 0))
	assert.Nil(t, g.Softmax(x, backend.SoftmaxOptions{}))
	assert.Same(t, first, g.Err())
	assert.Same(t, first, g.Backward(y))
}

func TestBackwardErrors(t *testing.T) {
	b := openCPU(t)
	p := &Param{Name: "v", T: upload(t, b, []float32{1, 2}, 2), Trainable: true}

	g := NewGraph(b, false)
	require.ErrorContains(t, g.Backward(g.Param(p)), "built without gradients")
	g.Release()

	g = NewGraph(b, true)
	require.ErrorContains(t, g.Backward(g.Affine(g.Param(p), 2, 0)), "one element")
	require.ErrorContains(t, g.Backward(g.Constant(p.T)), "does not depend")
	require.ErrorContains(t, g.Backward(nil), "nil loss")
	loss := g.MSE(g.Param(p), g.Constant(p.T))
	require.NoError(t, g.Backward(loss))
	require.ErrorContains(t, g.Backward(loss), "already ran")
	g.Release()
}

// TestRelease checks that Release frees activations and gradients, never
// parameters, and never frees a view (Reshape) on its own.
func TestRelease(t *testing.T) {
	cb := &countingBackend{Backend: openCPU(t), freed: map[backend.Tensor]bool{}}
	p := &Param{Name: "v", T: upload(t, cb, []float32{1, 2, 3, 4}, 4), Trainable: true}
	g := NewGraph(cb, true)
	x := g.Param(p)
	h := g.Act(backend.Tanh, g.Affine(x, 2, 0))
	r := g.Reshape(h, 2, 2)
	loss := g.MSE(r, g.Constant(upload(t, cb, make([]float32, 4), 2, 2)))
	require.NoError(t, g.Err())
	require.NoError(t, g.Backward(loss))
	grad := g.ParamGrad(p)
	require.NotNil(t, grad)
	assert.False(t, cb.freed[h.T] || cb.freed[loss.T] || cb.freed[grad], "graph tensors freed before Release")

	g.Release()
	for name, tt := range map[string]backend.Tensor{"activation": h.T, "loss": loss.T, "gradient": grad} {
		assert.True(t, cb.freed[tt], "%s not freed", name)
	}
	assert.False(t, cb.freed[p.T], "a parameter was freed")
	assert.False(t, cb.freed[r.T], "a view was freed as if the graph owned it")
	assert.Nil(t, g.ParamGrad(p), "Release forgets parameter values")
}

// TestSharedParamGradientsAdd uses one adapter vector in two layers: its
// gradient is the sum of both uses.
func TestSharedParamGradientsAdd(t *testing.T) {
	b := openCPU(t)
	checkGrad(t, b, gradCase{
		name: "shared vector",
		ins:  []input{frozen("x", 3, 4), frozen("W", 4, 4), {name: "s", shape: []int{4}, lo: 0.5, hi: 1.5, trainable: true}},
		build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			l := &Linear{Weight: ps[1], Adapter: &testAdapter{out: ps[2], in: ps[2]}}
			return g.Linear(g.Act(backend.Tanh, g.Linear(g.Param(ps[0]), l)), l)
		},
	})
}

// TestBackwardFreesIntermediateGradients checks that only parameter
// gradients outlive Backward, and that they stay readable.
func TestBackwardFreesIntermediateGradients(t *testing.T) {
	cb := &countingBackend{Backend: openCPU(t), freed: map[backend.Tensor]bool{}}
	p := &Param{Name: "v", T: upload(t, cb, []float32{0.5, -1, 2}, 3), Trainable: true}
	g := NewGraph(cb, true)
	defer g.Release()
	x := g.Param(p)
	h := g.Act(backend.Tanh, g.Affine(x, 2, 0))
	sum := g.Add(h, x)
	loss := g.MSE(sum, g.Constant(upload(t, cb, make([]float32, 3), 3)))
	require.NoError(t, g.Err())
	require.NoError(t, g.Backward(loss))
	assert.Nil(t, h.Grad, "an intermediate gradient outlived Backward")
	assert.Nil(t, sum.Grad, "an intermediate gradient outlived Backward")
	grad := g.ParamGrad(p)
	require.NotNil(t, grad)
	assert.False(t, cb.freed[grad])
	// d/dv mean((tanh(2v) + v)²) = 2/3 (tanh(2v) + v)(2(1 − tanh²(2v)) + 1).
	want := make([]float64, 3)
	for i, v := range []float64{0.5, -1, 2} {
		th := math.Tanh(2 * v)
		want[i] = 2.0 / 3 * (th + v) * (2*(1-th*th) + 1)
	}
	got := download(t, cb, grad)
	for i := range want {
		assert.InDelta(t, want[i], got[i], 1e-5)
	}
}

// TestMissingTensors checks that absent storage fails the graph with the
// parameter's name instead of panicking.
func TestMissingTensors(t *testing.T) {
	b := openCPU(t)
	x := upload(t, b, []float32{1, 2}, 1, 2)
	w := &Param{Name: "fc.weight", T: upload(t, b, []float32{1, 2, 3, 4}, 2, 2)}
	for _, c := range []struct {
		name string
		run  func(g *Graph) *Value
		want string
	}{
		{"nil value", func(g *Graph) *Value { return g.Add(nil, g.Constant(x)) }, "add: input 0 is nil"},
		{"constant without tensor", func(g *Graph) *Value { return g.Act(backend.ReLU, g.Constant(nil)) }, "input 0 is nil"},
		{"nil param", func(g *Graph) *Value { return g.Param(nil) }, "param: nil parameter"},
		{"bias not loaded", func(g *Graph) *Value {
			return g.Linear(g.Constant(x), &Linear{Weight: w, Bias: &Param{Name: "fc.bias"}})
		}, "param fc.bias: no tensor"},
		{"norm weight not loaded", func(g *Graph) *Value {
			return g.Norm(g.Constant(x), &Norm{Class: "LayerNorm", Weight: &Param{Name: "ln.weight"}})
		}, "param ln.weight: no tensor"},
		{"embedding without weight", func(g *Graph) *Value {
			return g.Embedding(&Embedding{}, uploadInt32(t, b, []int32{0}, 1))
		}, "embedding: module has no weight"},
		{"linear without weight", func(g *Graph) *Value { return g.Linear(g.Constant(x), &Linear{}) }, "linear: layer has no weight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph(b, true)
			defer g.Release()
			assert.Nil(t, c.run(g))
			require.ErrorContains(t, g.Err(), c.want)
		})
	}
}
