package ia3

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// headModel is a toy classifier: one adapted layer and a "classifier"
// head wrapped as modules_to_save (SEQ_CLS adds it on its own).
func headModel(t *testing.T) (*Model, denseLayer, denseLayer) {
	t.Helper()
	return headModelOn(t, cpu(t))
}

// headModelOn is headModel on backend b.
func headModelOn(t *testing.T, b backend.Backend) (*Model, denseLayer, denseLayer) {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 10))
	body := newDense(t, b, r, "enc.key", 4, 4, false)
	head := newDense(t, b, r, "classifier", 4, 2, false)
	mods := []nn.NamedModule{{Name: "", Module: &nn.Container{Class: "Toy"}}, {Name: "enc.key", Module: body.lin}, {Name: "classifier", Module: head.lin}}
	cfg := NewConfig()
	cfg.TaskType = TaskSeqCls
	cfg.TargetModules = Names("key")
	cfg.FeedforwardModules = Names()
	m, err := newModel(baseInfo{modules: mods, outputLayer: "classifier", modelType: "toy", taskType: TaskSeqCls}, b, nil, cfg, "a")
	require.NoError(t, err)
	require.NoError(t, m.AddAdapter("b", cfg))
	return m, body, head
}

func TestModulesToSaveSwap(t *testing.T) {
	m, _, head := headModel(t)
	b := m.Backend()
	orig := m.saved[0].originals[0]
	origT := orig.T
	assert.Equal(t, "classifier.weight", orig.Name)
	aw := m.saved[0].copies["a"][0]
	assert.Equal(t, []string{"classifier"}, m.ModulesToSave())
	assert.Same(t, aw, head.lin.Weight, "adapter a's copy is installed")
	assert.Equal(t, head.w, download(t, b, aw.T), "a copy starts as the original")
	assert.True(t, aw.Trainable)
	assert.False(t, orig.Trainable, "the original stays frozen")

	// Give b's copy its own values to tell the copies apart.
	bw := m.saved[0].copies["b"][0]
	b.Free(bw.T)
	bw.T = upload(t, b, make([]float32, 8), 2, 4)

	require.NoError(t, m.SetAdapter("b"))
	assert.Same(t, bw, head.lin.Weight)
	names := map[string]*nn.Param{}
	for _, p := range m.TrainableParams() {
		names[p.Name] = p.Param
	}
	assert.Same(t, bw, names["base_model.model.classifier.modules_to_save.b.weight"], "the installed copy trains as the module's parameter")
	assert.NotContains(t, names, "base_model.model.classifier.modules_to_save.a.weight")
	assert.Contains(t, names, "base_model.model.enc.key.ia3_l.b")

	require.NoError(t, m.DisableAdapterLayers())
	assert.Same(t, orig, head.lin.Weight, "disabled: the original is back")
	assert.Same(t, origT, orig.T)
	assert.False(t, head.lin.Weight.Trainable)
	m.EnableAdapterLayers()
	assert.Same(t, bw, head.lin.Weight)

	require.Error(t, m.SetAdapter("a", "b"))
	err := m.AddWeightedAdapter([]string{"a", "b"}, []float64{0.5, 0.5}, "w")
	require.ErrorContains(t, err, "Cannot add weighted adapters targeting the same module with modules_to_save")

	dir := t.TempDir()
	require.NoError(t, m.AddAdapter(DefaultAdapter, m.Config("a")))
	require.NoError(t, m.SavePretrained(dir, DefaultAdapter, "b"))
	assert.FileExists(t, filepath.Join(dir, ConfigFile), "default is saved in the directory itself")
	assert.FileExists(t, filepath.Join(dir, "b", WeightsFile))
	saved := readTensors(t, filepath.Join(dir, "b", WeightsFile))
	assert.Equal(t, make([]float32, 8), saved["base_model.model.classifier.weight"].data)

	require.NoError(t, m.DeleteAdapter("b"))
	assert.Nil(t, bw.T, "b's copy is freed")
	assert.Equal(t, []string{"a"}, m.ActiveAdapters(), "the first remaining adapter in sorted order")
	assert.Same(t, aw, head.lin.Weight, "a's copy installed again")

	// Train a's copy, then unload: the module keeps it in its original
	// parameter (the one the base model lists and saves).
	trained := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	b.Free(aw.T)
	aw.T = upload(t, b, trained, 2, 4)
	base, err := m.Unload()
	require.NoError(t, err)
	assert.Nil(t, base, "a toy model has no model.Model to return")
	assert.Nil(t, head.lin.Adapter)
	assert.Same(t, orig, head.lin.Weight, "the module's own parameter is back")
	assert.Equal(t, trained, download(t, b, orig.T), "unload keeps the active adapter's copy, as PEFT")
	assert.False(t, orig.Trainable)
	require.Error(t, m.SetAdapter("a"))
	require.NoError(t, m.Close(), "Close after Unload is a no-op")
	assert.Equal(t, trained, download(t, b, orig.T), "Close does not free what unload handed to the base model")
}

func TestInitIA3WeightsFalseIsSeededNormal(t *testing.T) {
	b := cpu(t)
	vec := func(seed uint64) []float32 {
		r := rand.New(rand.NewPCG(1, 1))
		d := newDense(t, b, r, "blk.proj", 3, 64, false)
		mods := []nn.NamedModule{{Name: "", Module: &nn.Container{Class: "Toy"}}, {Name: "blk.proj", Module: d.lin}}
		cfg := NewConfig()
		cfg.TargetModules = Names("proj")
		cfg.FeedforwardModules = Names()
		m, err := newModel(baseInfo{modules: mods, modelType: "toy"}, b, nil, cfg, "a")
		require.NoError(t, err)
		assert.Equal(t, bytes.Repeat([]byte{1}, 64), ones(download(t, b, m.byName["blk.proj"].vectors["a"].T)), "init_ia3_weights: ones")
		m.SetSeed(seed)
		cfg.InitIA3Weights = false
		require.NoError(t, m.AddAdapter("r", cfg))
		return download(t, b, m.byName["blk.proj"].vectors["r"].T)
	}
	v1, v2, v3 := vec(7), vec(7), vec(8)
	assert.Equal(t, v1, v2, "same seed, same vector")
	assert.NotEqual(t, v1, v3)
	mean, sq := 0.0, 0.0
	for _, x := range v1 {
		mean += float64(x) / 64
		sq += float64(x) * float64(x) / 64
	}
	assert.InDelta(t, 0, mean, 0.4)
	assert.InDelta(t, 1, sq, 0.5)
}

// ones marks which entries equal 1.
func ones(v []float32) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		if x == 1 {
			out[i] = 1
		}
	}
	return out
}

func TestAddWeightedAdapterRules(t *testing.T) {
	m, err := structureModel(t, gpt2Tree(), "gpt2", TaskCausalLM, NewConfig())
	require.NoError(t, err)
	re := NewConfig()
	re.TargetModules = Pattern(`.*\.h\.1\.attn\.c_attn`)
	re.FeedforwardModules = Names()
	require.NoError(t, m.AddAdapter("re", re))
	require.EqualError(t, m.AddWeightedAdapter([]string{DefaultAdapter, "re"}, []float64{1, 1}, "x"),
		"All adapter configs should have the same type for target and feedforward modules")
	require.ErrorContains(t, m.AddWeightedAdapter([]string{DefaultAdapter}, []float64{1, 2}, "x"), "1 adapters but 2 weights")

	re2 := re.Clone()
	re2.TargetModules = Pattern(`.*\.h\.0\.mlp\.c_fc`)
	re2.FeedforwardModules = Pattern(`.*c_fc`)
	require.NoError(t, m.AddAdapter("re2", re2))
	re.FeedforwardModules = Pattern(`$^`)
	require.NoError(t, m.DeleteAdapter("re"))
	require.NoError(t, m.AddAdapter("re", re))
	require.NoError(t, m.AddWeightedAdapter([]string{"re", "re2"}, []float64{0.5, 0.5}, "x"))
	c := m.Config("x")
	assert.Equal(t, `(.*\.h\.1\.attn\.c_attn)|(.*\.h\.0\.mlp\.c_fc)`, c.TargetModules.Regex())
	assert.Equal(t, `($^)|(.*c_fc)`, c.FeedforwardModules.Regex())
	var layers []string
	for _, l := range m.Layers() {
		if l.Vector("x") != nil {
			layers = append(layers, l.Name)
		}
	}
	assert.Equal(t, []string{"transformer.h.0.mlp.c_fc", "transformer.h.1.attn.c_attn"}, layers)
	assert.NotContains(t, m.ActiveAdapters(), "x")

	other := NewConfig()
	other.TargetModules = Names("c_fc")
	other.FeedforwardModules = Names("c_fc")
	require.NoError(t, m.AddAdapter("fc", other))
	require.NoError(t, m.AddWeightedAdapter([]string{DefaultAdapter, "fc"}, []float64{1, 1}, "u"))
	assert.Equal(t, []string{"c_attn", "mlp.c_proj", "c_fc"}, m.Config("u").TargetModules.List(), "list targets are joined as a set union")

	// PEFT returns silently when the name exists; here that is an error
	// and the existing adapter is left as it was.
	err = m.AddWeightedAdapter([]string{"fc"}, []float64{2}, "u")
	require.ErrorIs(t, err, ErrAdapterExists)
	assert.ErrorContains(t, err, `adapter "u"`)
	assert.Equal(t, []string{"c_attn", "mlp.c_proj", "c_fc"}, m.Config("u").TargetModules.List())
}

func TestParamCounts(t *testing.T) {
	m, _, _ := headModel(t)
	trainable, all := m.ParamCounts()
	// Base: 4·4+4 and 2·4+2; vectors of a and b: 4 each; classifier copies: 10 each; a trainable.
	assert.Equal(t, int64(4+10), trainable)
	assert.Equal(t, int64(20+10+8+20), all)
	var buf bytes.Buffer
	require.NoError(t, m.PrintTrainableParameters(&buf))
	assert.Equal(t, "trainable params: 14 || all params: 58 || trainable%: 24.1379\n", buf.String())
}
