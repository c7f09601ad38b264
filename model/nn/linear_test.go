package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// linearCase builds a Linear of x [2, 3, in] → out from ps = x, W, b, s, t
// (b, s, t absent when their input is absent from ins).
func linearCase(name string, fanIn bool, ins ...input) gradCase {
	return gradCase{name: name, ins: ins, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
		l := &Linear{Weight: ps[1], FanInFanOut: fanIn}
		var a testAdapter
		for i, in := range ins[2:] {
			switch in.name {
			case "b":
				l.Bias = ps[2+i]
			case "s":
				a.out = ps[2+i]
			case "t":
				a.in = ps[2+i]
			}
		}
		if a.out != nil || a.in != nil {
			l.Adapter = &a
		}
		return g.Linear(g.Param(ps[0]), l)
	}}
}

func TestLinearGradients(t *testing.T) {
	b := openCPU(t)
	x := input{name: "x", shape: []int{2, 3, 4}, trainable: true}
	xFrozen := input{name: "x", shape: []int{2, 3, 4}}
	w := input{name: "W", shape: []int{5, 4}}
	wT := input{name: "W", shape: []int{4, 5}}
	wTrain := input{name: "W", shape: []int{5, 4}, trainable: true}
	wTTrain := input{name: "W", shape: []int{4, 5}, trainable: true}
	bias := input{name: "b", shape: []int{5}}
	biasTrain := input{name: "b", shape: []int{5}, trainable: true}
	s := input{name: "s", shape: []int{5}, lo: 0.5, hi: 1.5, trainable: true}
	tIn := input{name: "t", shape: []int{4}, lo: 0.5, hi: 1.5, trainable: true}
	for _, c := range []gradCase{
		linearCase("plain frozen weight", false, x, w),
		linearCase("frozen weight and bias", false, x, w, bias),
		linearCase("out scale", false, xFrozen, w, bias, s),
		linearCase("in scale", false, xFrozen, w, tIn),
		linearCase("both scales with x", false, x, w, bias, s, tIn),
		linearCase("conv1d both scales", true, x, wT, bias, s, tIn),
		linearCase("trainable head", false, x, wTrain, biasTrain),
		linearCase("trainable head with scales", false, x, wTrain, biasTrain, s, tIn),
		linearCase("trainable conv1d", true, x, wTTrain, biasTrain, tIn),
		linearCase("f16 weight", false, x, input{name: "W", shape: []int{5, 4}, f16: true}, bias, s, tIn),
		linearCase("f16 conv1d weight", true, x, input{name: "W", shape: []int{4, 5}, f16: true}, s),
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

// TestLinearValue checks the forward against a hand computation, with the
// scaled path that keeps the pre-scale output.
func TestLinearValue(t *testing.T) {
	b := openCPU(t)
	l := &Linear{
		Weight: &Param{Name: "w", T: upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 3, 2)},
		Bias:   &Param{Name: "b", T: upload(t, b, []float32{1, 0, -1}, 3)},
		Adapter: &testAdapter{
			out: &Param{Name: "s", T: upload(t, b, []float32{2, 1, 0.5}, 3), Trainable: true},
			in:  &Param{Name: "t", T: upload(t, b, []float32{1, -1}, 2), Trainable: true},
		},
	}
	for _, grad := range []bool{false, true} {
		g := NewGraph(b, grad)
		x := g.Constant(upload(t, b, []float32{1, 2}, 1, 2))
		y := g.Linear(x, l)
		require.NoError(t, g.Err())
		// x⊙t = [1, -2]; W·(x⊙t) = [-3, -5, -7]; + b = [-2, -5, -8]; ⊙ s.
		assert.InDeltaSlice(t, []float32{-4, -5, -4}, download(t, b, y.T), 1e-6, "grad %v", grad)
		g.Release()
	}
}

// TestLinearNoWeightGradient proves that a frozen weight costs no
// weight-gradient matmul: with only the out vector trainable backward runs
// no matmul at all, with the in vector one (dx·W), and a trainable weight
// adds exactly one more.
func TestLinearNoWeightGradient(t *testing.T) {
	cb := &countingBackend{Backend: openCPU(t)}
	rng := newRNG()
	for _, c := range []struct {
		name         string
		in, out      bool
		trainWeight  bool
		wantMatMuls  int
		wantOutGrads []string
	}{
		{name: "out vector only", out: true, wantMatMuls: 0},
		{name: "in vector", in: true, wantMatMuls: 1},
		{name: "both vectors", in: true, out: true, wantMatMuls: 1},
		{name: "trainable weight", trainWeight: true, wantMatMuls: 1},
		{name: "trainable weight and in vector", in: true, trainWeight: true, wantMatMuls: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &Param{Name: "w", T: upload(t, cb, uniform(rng, 12, -1, 1), 3, 4), Trainable: c.trainWeight}
			a := &testAdapter{}
			if c.out {
				a.out = &Param{Name: "s", T: upload(t, cb, uniform(rng, 3, 0, 1), 3), Trainable: true}
			}
			if c.in {
				a.in = &Param{Name: "t", T: upload(t, cb, uniform(rng, 4, 0, 1), 4), Trainable: true}
			}
			g := NewGraph(cb, true)
			defer g.Release()
			x := g.Constant(upload(t, cb, uniform(rng, 8, -1, 1), 2, 4))
			y := g.Linear(x, &Linear{Weight: w, Adapter: a})
			loss := g.MSE(y, g.Constant(upload(t, cb, make([]float32, 6), 2, 3)))
			require.NoError(t, g.Err())
			cb.matmuls = 0
			require.NoError(t, g.Backward(loss))
			assert.Equal(t, c.wantMatMuls, cb.matmuls)
			assert.Equal(t, c.trainWeight, g.ParamGrad(w) != nil, "weight gradient presence")
			if a.out != nil {
				assert.NotNil(t, g.ParamGrad(a.out))
			}
			if a.in != nil {
				assert.NotNil(t, g.ParamGrad(a.in))
			}
		})
	}
}

// TestLinearMixedAdapterGradient checks that a stacked, indexed scaling
// gives the same output with and without gradients, and that gradients
// reach each stacked vector from its own rows only (finite differences).
func TestLinearMixedAdapterGradient(t *testing.T) {
	b := openCPU(t)
	w := &Param{Name: "w", T: upload(t, b, []float32{1, 0, 0, 1}, 2, 2)}
	stack := &Param{Name: "s", T: upload(t, b, []float32{2, 3, 4, 5, 1, 1}, 3, 2), Trainable: true}
	x := upload(t, b, []float32{1, 1, 1, 1, 1, 1}, 3, 2)
	for _, grad := range []bool{false, true} {
		// Without gradients -1 leaves a row plain; with them the caller
		// stacks a row of ones instead (the third vector here).
		ids := []int32{1, -1, 0}
		if grad {
			ids = []int32{1, 2, 0}
		}
		l := &Linear{Weight: w, Adapter: &testAdapter{out: stack, index: uploadInt32(t, b, ids, 3)}}
		g := NewGraph(b, grad)
		y := g.Linear(g.Constant(x), l)
		require.NoError(t, g.Err())
		assert.Equal(t, []float32{4, 5, 1, 1, 2, 3}, download(t, b, y.T), "grad %v", grad)
		g.Release()
	}

	mixed := func(out bool, ids ...int32) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			a := &testAdapter{index: uploadInt32(t, g.B, ids, len(ids))}
			if out {
				a.out = ps[2]
			} else {
				a.in = ps[2]
			}
			l := &Linear{Weight: ps[1], Adapter: a}
			return g.Linear(g.Param(ps[0]), l)
		}
	}
	for _, c := range []gradCase{
		{name: "out", ins: []input{in("x", 2, 2, 4), frozen("w", 3, 4), in("s", 3, 3)}, build: mixed(true, 2, 0, 0, 1)},
		{name: "in", ins: []input{in("x", 4, 4), frozen("w", 3, 4), in("t", 2, 4)}, build: mixed(false, 1, 1, 0, 1)},
		{name: "in unused vector", ins: []input{in("x", 2, 4), in("w", 3, 4), in("t", 3, 4)}, build: mixed(false, 2, 0)},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestMatMulGradients(t *testing.T) {
	b := openCPU(t)
	mm := func(o backend.MatMulOptions) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			return g.MatMul(g.Param(ps[0]), g.Param(ps[1]), o)
		}
	}
	for _, c := range []gradCase{
		{name: "plain", ins: []input{in("a", 3, 4), in("b", 4, 2)}, build: mm(backend.MatMulOptions{})},
		{name: "transA", ins: []input{in("a", 4, 3), in("b", 4, 2)}, build: mm(backend.MatMulOptions{TransA: true})},
		{name: "transB", ins: []input{in("a", 3, 4), in("b", 2, 4)}, build: mm(backend.MatMulOptions{TransB: true})},
		{name: "both", ins: []input{in("a", 4, 3), in("b", 2, 4)}, build: mm(backend.MatMulOptions{TransA: true, TransB: true, Alpha: 0.5})},
		{name: "batched transB", ins: []input{in("q", 2, 2, 3, 4), in("k", 2, 2, 5, 4)}, build: mm(backend.MatMulOptions{TransB: true, Alpha: 0.5})},
		{name: "batched transA", ins: []input{in("a", 2, 4, 3), in("b", 2, 4, 2)}, build: mm(backend.MatMulOptions{TransA: true})},
		{name: "shared b", ins: []input{in("a", 2, 3, 4), in("b", 4, 2)}, build: mm(backend.MatMulOptions{})},
		{name: "shared b transposed", ins: []input{in("a", 2, 4, 3), in("b", 2, 4)}, build: mm(backend.MatMulOptions{TransA: true, TransB: true})},
		{name: "frozen b", ins: []input{in("a", 3, 4), frozen("b", 4, 2)}, build: mm(backend.MatMulOptions{})},
		{name: "frozen a", ins: []input{frozen("a", 2, 3, 4), in("b", 2, 4, 2)}, build: mm(backend.MatMulOptions{})},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}
