package ia3

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// compositeCase is one classification fixture with the modules_to_save
// modules the test wraps, composite the one without a weight of its own:
// RoBERTa's classifier (RobertaClassificationHead) and BERT's pooler
// (BertPooler; BERT's classifier is a Linear, wrapped too).
type compositeCase struct {
	name      string
	saves     []string
	composite string
}

var compositeCases = []compositeCase{
	{name: "roberta", saves: []string{"classifier"}, composite: "classifier"},
	{name: "bert", saves: []string{"classifier", "bert.pooler"}, composite: "bert.pooler"},
}

// newCompositeAdapter loads the case's base model and attaches a fresh
// adapter with random vectors and modules_to_save cc.saves; the copies of
// cc.composite are then changed (×1.5 + 0.01), so that the adapter's head
// differs from the base's.
func newCompositeAdapter(t *testing.T, b backend.Backend, dir string, cc compositeCase) (*model.Model, *Model) {
	t.Helper()
	base, err := model.Load(context.Background(), filepath.Join(dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	cfg := NewConfig()
	cfg.TaskType = TaskSeqCls
	cfg.InitIA3Weights = false
	cfg.ModulesToSave = cc.saves
	m, err := New(base, cfg, "a")
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	changed := 0
	for _, p := range m.TrainableParams() {
		if !strings.HasPrefix(p.Name, "base_model.model."+cc.composite+".modules_to_save.") {
			continue
		}
		v := download(t, b, p.Param.T)
		for i := range v {
			v[i] = 1.5*v[i] + 0.01
		}
		nt := upload(t, b, v, p.Param.T.Shape()...)
		b.Free(p.Param.T)
		p.Param.T = nt
		changed++
	}
	require.Positive(t, changed, "modules_to_save copies")
	return base, m
}

// TestCompositeHeadUnload runs merge_and_unload and unload on models whose
// modules_to_save module has no weight of its own (PEFT 0.21 fails both
// with AttributeError): the merged model gives the adapter's logits (its
// changed head included) and saves a checkpoint with the base's key names
// that reloads to the same logits; the unloaded model gives the base's
// (the composite module's original parameters back).
func TestCompositeHeadUnload(t *testing.T) {
	devices := map[string]func(*testing.T) backend.Backend{
		"cpu":    cpu,
		"webgpu": func(t *testing.T) backend.Backend { return webgputest.Open(t) },
	}
	for _, dev := range []string{"cpu", "webgpu"} {
		for _, cc := range compositeCases {
			t.Run(dev+"/"+cc.name, func(t *testing.T) {
				b := devices[dev](t)
				c := modeltest.NamedCase(t, cc.name)
				in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
				require.NoError(t, err)

				base, m := newCompositeAdapter(t, b, c.Dir, cc)
				var baseKeys []string
				for _, p := range base.Params() {
					baseKeys = append(baseKeys, p.Name)
				}
				adapted := forwardLogits(t, b, base, in)
				var plain []float32
				require.NoError(t, m.WithAdaptersDisabled(func() error {
					plain = forwardLogits(t, b, base, in)
					return nil
				}))
				assert.Greater(t, maxDiff(adapted, plain), 1e-3, "the adapter changes the logits")

				merged, err := m.MergeAndUnload(true)
				require.NoError(t, err)
				assert.InDeltaSlice(t, adapted, forwardLogits(t, b, merged, in), 1e-4, "merged = adapter")
				var keys []string
				for _, p := range merged.Params() {
					keys = append(keys, p.Name)
				}
				assert.Equal(t, baseKeys, keys, "merged parameters keep the base's names")
				out := filepath.Join(t.TempDir(), "merged")
				require.NoError(t, merged.Save(out))
				st, err := modeltest.ReadTensors(filepath.Join(out, "model.safetensors"))
				require.NoError(t, err)
				for _, s := range cc.saves {
					prefix := s + "."
					assert.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(st)), func(k string) bool { return strings.HasPrefix(k, prefix) }), "checkpoint holds %s.*", s)
				}
				for k := range st {
					assert.NotContains(t, k, "modules_to_save", "plain checkpoint key")
					assert.NotContains(t, k, "base_model", "plain checkpoint key")
				}
				reloaded, err := model.Load(context.Background(), out, b)
				require.NoError(t, err)
				t.Cleanup(reloaded.Free)
				assert.InDeltaSlice(t, adapted, forwardLogits(t, b, reloaded, in), 1e-4, "reloaded merged = adapter")

				base2, m2 := newCompositeAdapter(t, b, c.Dir, cc)
				unloaded, err := m2.Unload()
				require.NoError(t, err)
				assert.Same(t, base2, unloaded)
				assert.InDeltaSlice(t, plain, forwardLogits(t, b, unloaded, in), 1e-5, "unloaded = base")
			})
		}
	}
}
