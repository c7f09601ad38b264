package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLossGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range []gradCase{
		{name: "cross entropy", ins: []input{in("logits", 2, 3, 5)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			return g.CrossEntropy(g.Param(ps[0]), constI32(t, g, []int32{1, -100, 4, 0, 2, -100}, 2, 3), -100)
		}},
		{name: "scaled cross entropy", ins: []input{in("logits", 3, 4)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			// The loss gradient reaching CrossEntropy is not 1 here.
			l := g.CrossEntropy(g.Param(ps[0]), constI32(t, g, []int32{3, 0, 1}, 3), -100)
			return g.Affine(l, 2.5, 0)
		}},
		binaryCase("mse", in("pred", 2, 3), in("target", 2, 3), (*Graph).MSE),
		binaryCase("mse frozen target", in("pred", 4), frozen("target", 4), (*Graph).MSE),
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestLossValues(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, false)
	defer g.Release()
	logits := g.Constant(upload(t, b, []float32{0, 0, 1, 3}, 2, 2))
	ce := g.CrossEntropy(logits, uploadInt32(t, b, []int32{1, -100}, 2), -100)
	mse := g.MSE(g.Constant(upload(t, b, []float32{1, 2, 3}, 3)), g.Constant(upload(t, b, []float32{1, 0, 0}, 3)))
	require.NoError(t, g.Err())
	assert.InDelta(t, math.Log(2), download(t, b, ce.T)[0], 1e-6)
	assert.InDelta(t, 13.0/3, download(t, b, mse.T)[0], 1e-6)
}

func TestMSEShapeMismatch(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, false)
	defer g.Release()
	assert.Nil(t, g.MSE(g.Constant(upload(t, b, []float32{1, 2}, 2)), g.Constant(upload(t, b, []float32{1, 2}, 1, 2))))
	require.ErrorContains(t, g.Err(), "mse: pred [2] and target [1 2] differ in shape")
}
