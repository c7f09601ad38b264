package ia3

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// tiedCase loads the GPT-2 fixture (lm_head tied to transformer.wte) and
// its inputs (a missing fixture is handled by modeltest.NamedCase).
func tiedCase(t *testing.T, b backend.Backend) (dir string, in *model.Inputs) {
	t.Helper()
	dir = modeltest.NamedCase(t, "gpt2").Dir
	in, err := model.InputsFromSafetensors(filepath.Join(dir, "inputs.safetensors"))
	require.NoError(t, err)
	return dir, in
}

// loadTied loads the fixture's base model and checks that its head is tied.
func loadTied(t *testing.T, b backend.Backend, dir string) (*model.Model, *nn.Embedding, *nn.Linear) {
	t.Helper()
	base, err := model.Load(context.Background(), filepath.Join(dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	wte, ok := base.Module("transformer.wte")
	require.True(t, ok)
	head, ok := base.Module("lm_head")
	require.True(t, ok)
	emb, lin := wte.(*nn.Embedding), head.(*nn.Linear)
	require.Same(t, emb.Weight, lin.Weight, "the fixture's lm_head is tied to wte")
	return base, emb, lin
}

// forwardLogits runs m without gradients and downloads the logits.
func forwardLogits(t *testing.T, b backend.Backend, m *model.Model, in *model.Inputs) []float32 {
	t.Helper()
	g := nn.NewGraph(b, false)
	defer g.Release()
	out := m.Forward(g, in)
	require.NoError(t, g.Err())
	return download(t, b, out.T)
}

func scaled(v []float32, k float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = k * x
	}
	return out
}

// TestModulesToSaveTiedHead: with modules_to_save ["lm_head"] on a model
// whose lm_head is tied to the input embedding, the adapter's copy is the
// head's alone (PEFT deep-copies the module): training it changes the
// output head only, the embedding stays frozen and unchanged, disabling
// restores the tied head, and the copy saves and reloads under PEFT's key.
func TestModulesToSaveTiedHead(t *testing.T) {
	b := cpu(t)
	dir, in := tiedCase(t, b)
	base, wte, head := loadTied(t, b, dir)
	table := wte.Weight
	tableVals := download(t, b, table.T)
	baseLogits := forwardLogits(t, b, base, in)

	cfg := NewConfig()
	cfg.TaskType = TaskCausalLM
	cfg.ModulesToSave = []string{"lm_head"}
	pm, err := New(base, cfg, DefaultAdapter)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pm.Close()) })

	var names []string
	var copyParam *nn.Param
	for _, p := range pm.TrainableParams() {
		names = append(names, p.Name)
		if p.Name == "base_model.model.lm_head.modules_to_save.default.weight" {
			copyParam = p.Param
		}
	}
	require.NotNil(t, copyParam, "trainable: %v", names)
	assert.NotContains(t, names, "base_model.model.transformer.wte.weight")
	assert.Same(t, copyParam, head.Weight, "the head computes with the copy")
	assert.Same(t, table, wte.Weight, "the embedding keeps the original")
	assert.False(t, table.Trainable, "the embedding is frozen")
	assert.Equal(t, table.T.Shape(), copyParam.T.Shape())
	assert.InDeltaSlice(t, baseLogits, forwardLogits(t, b, base, in), 1e-6, "an untrained copy computes as the tied head")

	// A training step on the copy: W' = 2W. Every adapter vector is ones,
	// so the logits double exactly and the embedding is untouched.
	trained := scaled(tableVals, 2)
	b.Free(copyParam.T)
	copyParam.T = upload(t, b, trained, copyParam.T.Shape()...)
	want := scaled(baseLogits, 2)
	assert.InDeltaSlice(t, want, forwardLogits(t, b, base, in), 1e-5, "the head uses the trained copy")
	assert.Equal(t, tableVals, download(t, b, table.T), "the input embedding is unchanged")

	require.NoError(t, pm.WithAdaptersDisabled(func() error {
		assert.Same(t, table, head.Weight, "disabled: the tied original is back")
		assert.InDeltaSlice(t, baseLogits, forwardLogits(t, b, base, in), 1e-6)
		return nil
	}))
	assert.Same(t, copyParam, head.Weight)

	trainable, all := pm.ParamCounts()
	vocab, hidden := table.T.Shape()[0], table.T.Shape()[1]
	assert.Equal(t, int64(vocab*hidden), trainable-vectorCount(pm), "the head copy trains")
	assert.Equal(t, int64(vocab*hidden), all-modelCount(base)-vectorCount(pm), "the copy counts once beside the base")

	out := t.TempDir()
	require.NoError(t, pm.SavePretrained(out))
	saved := readTensors(t, filepath.Join(out, WeightsFile))
	require.Contains(t, saved, "base_model.model.lm_head.weight", "PEFT strips modules_to_save.<adapter> from the key")
	assert.Equal(t, []int{vocab, hidden}, saved["base_model.model.lm_head.weight"].shape)
	assert.Equal(t, trained, saved["base_model.model.lm_head.weight"].data)
	assert.NotContains(t, saved, "base_model.model.transformer.wte.weight")

	base2, wte2, head2 := loadTied(t, b, dir)
	pm2, err := FromPretrained(base2, out, DefaultAdapter, false)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pm2.Close()) })
	assert.Equal(t, forwardLogits(t, b, base, in), forwardLogits(t, b, base2, in), "reloaded: identical logits")
	assert.NotSame(t, wte2.Weight, head2.Weight)
	assert.Equal(t, tableVals, download(t, b, wte2.Weight.T))

	// merge_and_unload keeps the copy in the head, untied as in PEFT.
	unloaded, err := pm2.MergeAndUnload(true)
	require.NoError(t, err)
	assert.NotSame(t, wte2.Weight, head2.Weight)
	assert.False(t, head2.Weight.Trainable)
	assert.Equal(t, "lm_head.weight", head2.Weight.Name)
	assert.InDeltaSlice(t, want, forwardLogits(t, b, unloaded, in), 1e-5)
	assert.Equal(t, tableVals, download(t, b, wte2.Weight.T))
}

// vectorCount is the number of adapter vector elements of m.
func vectorCount(m *Model) int64 {
	var n int64
	for _, l := range m.Layers() {
		n += int64(l.VectorLen()) * int64(len(l.vectors))
	}
	return n
}

// modelCount is the base model's element count (tied weights once).
func modelCount(m *model.Model) int64 {
	var n int64
	for _, p := range m.Params() {
		n += int64(p.T.Len())
	}
	return n
}
