package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormGradients(t *testing.T) {
	b := openCPU(t)
	norm := func(rms, weight, bias bool) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			n := &Norm{Class: "LayerNorm", Eps: 1e-5, RMS: rms}
			if weight {
				n.Weight = ps[1]
			}
			if bias {
				n.Bias = ps[2]
			}
			return g.Norm(g.Param(ps[0]), n)
		}
	}
	x := in("x", 2, 3, 6)
	w := input{name: "weight", shape: []int{6}, lo: 0.5, hi: 1.5}
	for _, c := range []gradCase{
		{name: "layernorm", ins: []input{x, w, frozen("bias", 6)}, build: norm(false, true, true)},
		{name: "layernorm without affine", ins: []input{x}, build: norm(false, false, false)},
		{name: "rmsnorm", ins: []input{x, w}, build: norm(true, true, false)},
		{name: "rmsnorm without weight", ins: []input{x}, build: norm(true, false, false)},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestNormValue(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, false)
	defer g.Release()
	x := g.Constant(upload(t, b, []float32{1, 3, 2, 2}, 2, 2))
	w := &Param{Name: "ln.weight", T: upload(t, b, []float32{2, 1}, 2)}
	bias := &Param{Name: "ln.bias", T: upload(t, b, []float32{0, 1}, 2)}
	y := g.Norm(x, &Norm{Class: "LayerNorm", Weight: w, Bias: bias, Eps: 1e-5})
	require.NoError(t, g.Err())
	// Row 1: mean 2, std 1 → [-1, 1] ⊙ [2, 1] + [0, 1]; row 2 is constant.
	assert.InDeltaSlice(t, []float32{-2, 2, 0, 1}, download(t, b, y.T), 1e-4)
}

func TestNormTrainableParamFails(t *testing.T) {
	b := openCPU(t)
	w := &Param{Name: "model.norm.weight", T: upload(t, b, []float32{1, 1}, 2), Trainable: true}
	x := upload(t, b, []float32{1, 2}, 1, 2)

	g := NewGraph(b, false) // no gradients: a trainable flag does not matter
	require.NotNil(t, g.Norm(g.Constant(x), &Norm{Class: "LlamaRMSNorm", Weight: w, RMS: true}))
	require.NoError(t, g.Err())
	g.Release()

	g = NewGraph(b, true)
	defer g.Release()
	assert.Nil(t, g.Norm(g.Constant(x), &Norm{Class: "LlamaRMSNorm", Weight: w, RMS: true}))
	require.ErrorContains(t, g.Err(), "model.norm.weight")
	require.ErrorContains(t, g.Err(), "not supported")
}
