package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGatherGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range []gradCase{
		{name: "gather repeated rows", ins: []input{in("table", 5, 3)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			return g.Gather(g.Param(ps[0]), constI32(t, g, []int32{4, 0, 4, 2}, 4))
		}},
		{name: "pooling hidden states", ins: []input{in("h", 2, 3, 4)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			// The last token of each sequence, as sequence classification pools.
			flat := g.Reshape(g.Param(ps[0]), 6, 4)
			return g.Gather(flat, constI32(t, g, []int32{2, 4}, 2))
		}},
		{name: "trainable embedding", ins: []input{in("wte", 6, 2)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			return g.Embedding(&Embedding{Weight: ps[0]}, constI32(t, g, []int32{1, 5, 1, 0, 3, 3}, 2, 3))
		}},
		{name: "frozen embedding feeding a trainable op", ins: []input{frozen("wte", 6, 2), in("s", 2)}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			e := g.Embedding(&Embedding{Weight: ps[0]}, constI32(t, g, []int32{1, 5, 1}, 3))
			return g.Mul(e, g.Param(ps[1]))
		}},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

func TestEmbeddingValue(t *testing.T) {
	b := openCPU(t)
	g := NewGraph(b, true)
	defer g.Release()
	e := &Embedding{Weight: &Param{Name: "wte.weight", T: upload(t, b, []float32{0, 1, 10, 11, 20, 21}, 3, 2)}}
	y := g.Embedding(e, uploadInt32(t, b, []int32{2, 0, 1, 2}, 2, 2))
	require.NoError(t, g.Err())
	assert.Equal(t, []int{2, 2, 2}, y.Shape())
	assert.Equal(t, []float32{20, 21, 0, 1, 10, 11, 20, 21}, download(t, b, y.T))
	assert.False(t, y.NeedsGrad(), "a frozen table's lookup needs no gradient")
}
