package ia3

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// zeroModel builds a case's base model with zero weights on b: enough for
// everything that concerns adapter files.
func zeroModel(t *testing.T, b backend.Backend, caseDir string) *model.Model {
	t.Helper()
	mc, err := model.LoadConfig(filepath.Join(caseDir, "base"))
	require.NoError(t, err)
	m, err := model.New(mc, b)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// fileTensors reads every tensor of a safetensors file as float32 with its
// dtype and shape.
type fileTensor struct {
	dtype string
	shape []int
	data  []float32
}

func readTensors(t *testing.T, path string) map[string]fileTensor {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]fileTensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		v, err := f.Float32(n)
		require.NoError(t, err)
		out[n] = fileTensor{dtype: info.DType, shape: info.Shape, data: v}
	}
	return out
}

// adapterState downloads an adapter's tensors under PEFT's saved keys.
func adapterState(t *testing.T, m *Model, name string) map[string]fileTensor {
	t.Helper()
	ts, err := m.adapterTensors(name)
	require.NoError(t, err)
	out := map[string]fileTensor{}
	for _, x := range ts {
		f := fileTensor{dtype: x.DType, shape: x.Shape}
		v := make([]float32, len(x.Data)/4)
		for i := range v {
			v[i] = float32frombits(x.Data[4*i:])
		}
		f.data = v
		out[x.Name] = f
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		if x := float64(a[i]) - float64(b[i]); x > d {
			d = x
		} else if -x > d {
			d = -x
		}
	}
	return d
}

// TestFixtureAdapters loads each case's adapters a, b (and w) as PEFT
// saved them, checks the values, rebuilds w with AddWeightedAdapter, checks
// the refusals meta.json records, and saves and reloads the adapters: same
// keys, shapes, dtypes, values and config bytes as PEFT's files.
func TestFixtureAdapters(t *testing.T) {
	b := cpu(t)
	for _, c := range modeltest.Cases(t) {
		aDir := filepath.Join(c.Dir, "adapters", "a")
		if _, err := os.Stat(aDir); err != nil {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m, err := FromPretrained(zeroModel(t, b, c.Dir), aDir, "a", false)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, m.Close()) })
			require.NoError(t, m.LoadAdapter(filepath.Join(c.Dir, "adapters", "b"), "b"))
			assert.Equal(t, []string{"a"}, m.ActiveAdapters())
			assert.Empty(t, m.TrainableParams(), "adapters loaded for inference are frozen")
			for _, name := range []string{"a", "b"} {
				want := readTensors(t, filepath.Join(c.Dir, "adapters", name, WeightsFile))
				got := adapterState(t, m, name)
				require.Equal(t, sortedKeys(want), sortedKeys(got), name)
				for k, w := range want {
					assert.Equal(t, w.shape, got[k].shape, k)
					assert.Equal(t, w.data, got[k].data, k)
				}
			}

			_, refusesBoth := c.Meta.Errors["a_and_b_active"]
			err = m.SetAdapter("a", "b")
			if refusesBoth {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "Only one adapter can be set at a time for modules_to_save")
				assert.Equal(t, []string{"a"}, m.ActiveAdapters(), "a refused SetAdapter changes nothing")
			} else {
				require.NoError(t, err)
				require.NoError(t, m.SetAdapter("a"))
			}

			_, refusesWeighted := c.Meta.Errors["add_weighted_adapter"]
			err = m.AddWeightedAdapter([]string{"a", "b"}, []float64{0.6, 0.4}, "ours")
			if refusesWeighted {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "Cannot add weighted adapters targeting the same module with modules_to_save")
				assert.Equal(t, []string{"a", "b"}, m.Adapters())
			} else {
				require.NoError(t, err)
				wDir := filepath.Join(c.Dir, "adapters", "w")
				want := readTensors(t, filepath.Join(wDir, WeightsFile))
				got := adapterState(t, m, "ours")
				require.Equal(t, sortedKeys(want), sortedKeys(got))
				for k, w := range want {
					assert.LessOrEqual(t, maxDiff(w.data, got[k].data), 1e-6, k)
				}
				require.NoError(t, m.LoadAdapter(wDir, "w"))
				wantCfg, err := os.ReadFile(filepath.Join(wDir, ConfigFile))
				require.NoError(t, err)
				gotCfg, err := m.configs["w"].Marshal()
				require.NoError(t, err)
				assert.Equal(t, string(wantCfg), string(gotCfg))
				require.ErrorIs(t, m.AddWeightedAdapter([]string{"zzz"}, []float64{1}, "ours"), ErrAdapterExists,
					"an existing name is refused (PEFT returns silently)")
				require.EqualError(t, m.AddWeightedAdapter([]string{"zzz"}, []float64{1}, "new"), "Adapter zzz does not exist")
			}

			out := t.TempDir()
			require.NoError(t, m.SavePretrained(out, "a", "b"))
			for _, name := range []string{"a", "b"} {
				ref := filepath.Join(c.Dir, "adapters", name)
				want := readTensors(t, filepath.Join(ref, WeightsFile))
				got := readTensors(t, filepath.Join(out, name, WeightsFile))
				assert.Equal(t, want, got, "saved %s has PEFT's keys, dtypes, shapes and values", name)
				wantCfg, err := os.ReadFile(filepath.Join(ref, ConfigFile))
				require.NoError(t, err)
				gotCfg, err := os.ReadFile(filepath.Join(out, name, ConfigFile))
				require.NoError(t, err)
				assert.Equal(t, string(wantCfg), string(gotCfg))
			}
			require.NoError(t, m.LoadAdapter(filepath.Join(out, "b"), "b2"))
			assert.Equal(t, adapterState(t, m, "b"), adapterState(t, m, "b2"), "reload is identical")
		})
	}
}

// TestLoadAdapterRefusesMismatch: a file whose keys or shapes do not fit
// is refused naming the keys and shapes, and nothing is attached.
func TestLoadAdapterRefusesMismatch(t *testing.T) {
	b := cpu(t)
	caseDir := modeltest.NamedCase(t, "llama").Dir
	src := filepath.Join(caseDir, "adapters", "a")
	m, err := FromPretrained(zeroModel(t, b, caseDir), src, "a", true)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	assert.Len(t, m.TrainableParams(), len(m.Layers()), "trainable when asked")

	tensors := readTensors(t, filepath.Join(src, WeightsFile))
	keys := sortedKeys(tensors)
	var out []safetensors.Tensor
	for i, k := range keys {
		x := tensors[k]
		switch i {
		case 0: // dropped: missing
			continue
		case 1: // wrong shape
			out = append(out, safetensors.F32Tensor(k, []int{1, len(x.data)}, x.data))
			continue
		}
		out = append(out, safetensors.F32Tensor(k, x.shape, x.data))
	}
	out = append(out, safetensors.F32Tensor("base_model.model.extra.ia3_l", []int{2, 1}, []float32{1, 2}))
	bad := t.TempDir()
	require.NoError(t, safetensors.Write(filepath.Join(bad, WeightsFile), out, nil))
	cfgData, err := os.ReadFile(filepath.Join(src, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, ConfigFile), cfgData, 0o644))

	err = m.LoadAdapter(bad, "bad")
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "missing keys: "+keys[0])
	assert.Contains(t, msg, "unexpected keys: base_model.model.extra.ia3_l")
	assert.Contains(t, msg, keys[1]+": file [1 "+itoa(len(tensors[keys[1]].data))+"], model "+shapeString(tensors[keys[1]].shape))
	assert.Equal(t, []string{"a"}, m.Adapters(), "nothing attached")
	for _, l := range m.Layers() {
		assert.Equal(t, []string{"a"}, l.Adapters())
	}

	for _, name := range []string{"", "..", "x/y"} {
		require.Error(t, m.LoadAdapter(src, name), "name %q", name)
	}
	require.Error(t, m.LoadAdapter(filepath.Join(caseDir, "no-such-dir"), "c"))
	assert.True(t, slices.Equal([]string{"a"}, m.Adapters()))
}
