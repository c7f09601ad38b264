package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func TestElementwiseGradients(t *testing.T) {
	b := openCPU(t)
	pos := func(name string, shape ...int) input {
		return input{name: name, shape: shape, lo: 0.2, hi: 1.5, trainable: true}
	}
	var cases []gradCase
	for _, op := range []struct {
		name string
		f    func(g *Graph, a, b *Value) *Value
	}{{"add", (*Graph).Add}, {"sub", (*Graph).Sub}, {"mul", (*Graph).Mul}} {
		cases = append(cases,
			binaryCase(op.name+" same shape", in("a", 2, 3), in("b", 2, 3), op.f),
			binaryCase(op.name+" vector broadcast", in("a", 2, 3, 4), in("b", 4), op.f),
			binaryCase(op.name+" matrix broadcast", in("a", 2, 3, 4), in("b", 3, 4), op.f),
			binaryCase(op.name+" frozen b", in("a", 2, 3), frozen("b", 3), op.f),
			binaryCase(op.name+" frozen a", frozen("a", 2, 3), in("b", 3), op.f),
		)
	}
	cases = append(cases,
		binaryCase("add same value twice", in("a", 2, 3), frozen("unused", 1),
			func(g *Graph, a, _ *Value) *Value { return g.Add(a, a) }),
		binaryCase("mul chain reuses input", in("a", 2, 3), in("b", 3),
			func(g *Graph, a, b *Value) *Value { return g.Mul(g.Add(a, b), a) }),
		unary("affine", in("x", 2, 3), func(g *Graph, x *Value) *Value { return g.Affine(x, -1.5, 0.25) }),
		binaryCase("swiglu", in("gate", 2, 5), in("up", 2, 5), (*Graph).SwiGLU),
	)
	for _, f := range []backend.Unary{backend.GELUErf, backend.GELUTanh, backend.SiLU, backend.Tanh, backend.Sigmoid} {
		cases = append(cases, unary("act "+f.String(), in("x", 2, 5),
			func(g *Graph, x *Value) *Value { return g.Act(f, x) }))
	}
	// ReLU away from its kink at 0.
	cases = append(cases, unary("act relu", pos("x", 2, 5), func(g *Graph, x *Value) *Value {
		return g.Act(backend.ReLU, g.Affine(x, 1, -0.85))
	}))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestBroadcastValues(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, false)
	defer g.Release()
	a := g.Constant(upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3))
	v := g.Constant(upload(t, b, []float32{10, 20, 30}, 3))
	for _, c := range []struct {
		name string
		y    *Value
		want []float32
	}{
		{"add", g.Add(a, v), []float32{11, 22, 33, 14, 25, 36}},
		{"sub", g.Sub(a, v), []float32{-9, -18, -27, -6, -15, -24}},
		{"mul", g.Mul(a, v), []float32{10, 40, 90, 40, 100, 180}},
		{"affine", g.Affine(a, 2, 1), []float32{3, 5, 7, 9, 11, 13}},
	} {
		require.NoError(t, g.Err(), c.name)
		assert.Equal(t, c.want, download(t, b, c.y.T), c.name)
	}
}
