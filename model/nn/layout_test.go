package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLayoutGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range []gradCase{
		unary("permute 3-D", in("x", 2, 3, 4), func(g *Graph, x *Value) *Value { return g.Permute(x, 2, 0, 1) }),
		unary("permute heads", in("x", 2, 3, 2, 2), func(g *Graph, x *Value) *Value { return g.Permute(x, 0, 2, 1, 3) }),
		unary("reshape", in("x", 2, 3, 4), func(g *Graph, x *Value) *Value { return g.Reshape(x, -1, 2, 2) }),
		unary("reshape used twice", in("x", 2, 3), func(g *Graph, x *Value) *Value {
			return g.Mul(g.Reshape(x, 3, 2), g.Reshape(x, 3, 2))
		}),
		unary("narrow last", in("x", 2, 5), func(g *Graph, x *Value) *Value { return g.Narrow(x, -1, 1, 3) }),
		unary("narrow first", in("x", 4, 2, 2), func(g *Graph, x *Value) *Value { return g.Narrow(x, 0, 2, 2) }),
		unary("split and join", in("x", 2, 6), func(g *Graph, x *Value) *Value {
			return g.Concat(1, g.Narrow(x, 1, 4, 2), g.Narrow(x, 1, 0, 4))
		}),
		binaryCase("concat", in("a", 2, 2, 3), in("b", 2, 1, 3), func(g *Graph, a, b *Value) *Value { return g.Concat(1, a, b) }),
		binaryCase("concat frozen first", frozen("a", 2, 2), in("b", 2, 3), func(g *Graph, a, b *Value) *Value { return g.Concat(-1, a, b) }),
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestReshapeErrors(t *testing.T) {
	b := openCPU(t)
	for _, c := range []struct {
		shape []int
		want  string
	}{
		{[]int{-1, -1}, "more than one -1"},
		{[]int{4, -1}, "do not divide"},
		{[]int{0, 6}, "not positive"},
		{[]int{5}, "reshape [5]"},
	} {
		g := NewGraph(b, false)
		assert.Nil(t, g.Reshape(g.Constant(upload(t, b, make([]float32, 6), 2, 3)), c.shape...))
		require.ErrorContains(t, g.Err(), c.want)
		g.Release()
	}
}

func TestConcatValue(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, false)
	defer g.Release()
	a := g.Constant(upload(t, b, []float32{1, 2, 3, 4}, 2, 2))
	c := g.Constant(upload(t, b, []float32{5, 6}, 2, 1))
	y := g.Concat(-1, a, c)
	require.NoError(t, g.Err())
	assert.Equal(t, []int{2, 3}, y.Shape())
	assert.Equal(t, []float32{1, 2, 5, 3, 4, 6}, download(t, b, y.T))
}
