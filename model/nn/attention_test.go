package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// constF32 uploads a constant the graph frees on Release.
func constF32(t *testing.T, g *Graph, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := g.B.FromFloat32(data, shape...)
	require.NoError(t, err)
	return g.Own(x)
}

// constI32 uploads I32 data the graph frees on Release.
func constI32(t *testing.T, g *Graph, data []int32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := g.B.FromInt32(data, shape...)
	require.NoError(t, err)
	return g.Own(x)
}

func TestAttentionGradients(t *testing.T) {
	b := openCPU(t)
	scores := in("scores", 2, 2, 3, 4)
	softmax := func(o func(t *testing.T, g *Graph) backend.SoftmaxOptions) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			return g.Softmax(g.Param(ps[0]), o(t, g))
		}
	}
	rope := func(positions []int32, shape ...int) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			inv := constF32(t, g, []float32{1, 0.1}, 2)
			return g.Rope(g.Param(ps[0]), inv, constI32(t, g, positions, shape...))
		}
	}
	for _, c := range []gradCase{
		{name: "softmax", ins: []input{scores}, build: softmax(func(*testing.T, *Graph) backend.SoftmaxOptions {
			return backend.SoftmaxOptions{}
		})},
		{name: "softmax scaled causal", ins: []input{scores}, build: softmax(func(*testing.T, *Graph) backend.SoftmaxOptions {
			return backend.SoftmaxOptions{Scale: 0.5, Causal: true}
		})},
		{name: "softmax key mask and bias", ins: []input{scores}, build: softmax(func(t *testing.T, g *Graph) backend.SoftmaxOptions {
			return backend.SoftmaxOptions{
				Scale:   2,
				KeyMask: constF32(t, g, []float32{1, 1, 0, 1, 0, 1, 1, 1}, 2, 4),
				Bias:    constF32(t, g, uniform(newRNG(), 24, -1, 1), 2, 3, 4),
			}
		})},
		{name: "rope shared positions", ins: []input{in("x", 1, 2, 3, 6)}, build: rope([]int32{0, 3, 7}, 3)},
		{name: "rope batch positions", ins: []input{in("x", 2, 1, 2, 4)}, build: rope([]int32{1, 2, 5, 9}, 2, 2)},
		unary("repeat_kv", in("x", 1, 2, 3, 2), func(g *Graph, x *Value) *Value { return g.RepeatKV(x, 3) }),
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestRepeatKVOneIsIdentity(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, true)
	defer g.Release()
	x := g.Param(&Param{Name: "x", T: upload(t, b, []float32{1, 2}, 1, 1, 1, 2), Trainable: true})
	assert.Same(t, x, g.RepeatKV(x, 1))
}
