package ia3

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// freeRecorder is a backend that records which tensors were freed.
type freeRecorder struct {
	backend.Backend
	freed map[backend.Tensor]int
}

func (f *freeRecorder) Free(t backend.Tensor) {
	f.freed[t]++
	f.Backend.Free(t)
}

func TestCloseFreesAdapterTensors(t *testing.T) {
	rec := &freeRecorder{Backend: cpu(t), freed: map[backend.Tensor]int{}}
	m, body, head := headModelOn(t, rec)
	var mine []backend.Tensor
	for _, l := range m.layers {
		for _, p := range l.vectors {
			mine = append(mine, p.T)
		}
	}
	var copies []*nn.Param
	for _, cs := range m.saved[0].copies {
		for _, c := range cs {
			mine = append(mine, c.T)
			copies = append(copies, c)
		}
	}
	require.Len(t, mine, 2+2*2, "vectors of a and b, weight and bias copies of a and b")
	orig := m.saved[0].originals
	baseTensors := []backend.Tensor{body.lin.Weight.T, body.lin.Bias.T, orig[0].T, orig[1].T}

	require.NoError(t, m.Close())
	for i, x := range mine {
		assert.Equal(t, 1, rec.freed[x], "tensor %d allocated by ia3 is freed once", i)
	}
	for i, x := range baseTensors {
		assert.Zero(t, rec.freed[x], "base tensor %d is the base model's", i)
	}
	for _, c := range copies {
		assert.Nil(t, c.T)
	}
	assert.Nil(t, body.lin.Adapter, "the layer runs plain again")
	assert.Same(t, orig[0], head.lin.Weight, "the head has its own weight back")
	assert.Same(t, orig[1], head.lin.Bias)
	assert.Equal(t, head.w, download(t, rec, head.lin.Weight.T))

	require.NoError(t, m.Close(), "Close is idempotent")
	for _, x := range mine {
		assert.Equal(t, 1, rec.freed[x])
	}
	require.ErrorContains(t, m.SetAdapter("a"), "closed")
	require.ErrorContains(t, m.SavePretrained(t.TempDir()), "closed")
}

func TestCloseStructureOnly(t *testing.T) {
	m, err := structureModel(t, gpt2Tree(), "gpt2", TaskCausalLM, NewConfig())
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	assert.Empty(t, m.Layers())
}
