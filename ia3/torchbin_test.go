package ia3

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/torchbin"
)

// TestLoadAdapterBin loads llama's adapter "a" from the adapter_model.bin
// torch.save wrote (testdata/torchbin/make_bin.py) beside the same adapter
// from PEFT's adapter_model.safetensors: the vectors and the logits with
// each active are identical.
func TestLoadAdapterBin(t *testing.T) {
	c := modeltest.NamedCase(t, "llama")
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	binDir := filepath.Join(root, "testdata", "torchbin", "llama_adapter_a")
	b := cpu(t)
	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	m, err := FromPretrained(base, filepath.Join(c.Dir, "adapters", "a"), "a", false)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	require.NoError(t, m.LoadAdapter(binDir, "a_bin"))
	assert.Equal(t, adapterState(t, m, "a"), adapterState(t, m, "a_bin"))

	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	logits := func(adapter string) []float32 {
		require.NoError(t, m.SetAdapter(adapter))
		g := nn.NewGraph(b, false)
		defer g.Release()
		out := base.Forward(g, in)
		require.NoError(t, g.Err())
		v, err := b.ToFloat32(out.T)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, logits("a"), logits("a_bin"))
}

// TestLoadAdapterBinErrors: a directory with neither weights file names
// both; a broken adapter_model.bin is refused naming it, and nothing is
// attached.
func TestLoadAdapterBinErrors(t *testing.T) {
	c := modeltest.NamedCase(t, "llama")
	b := cpu(t)
	m, err := FromPretrained(zeroModel(t, b, c.Dir), filepath.Join(c.Dir, "adapters", "a"), "a", false)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	cfg, err := os.ReadFile(filepath.Join(c.Dir, "adapters", "a", ConfigFile))
	require.NoError(t, err)

	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, ConfigFile), cfg, 0o644))
	err = m.LoadAdapter(empty, "x")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), WeightsFile)
	assert.Contains(t, err.Error(), TorchWeightsFile)

	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, ConfigFile), cfg, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(broken, TorchWeightsFile), []byte("\x80\x02}q\x00."), 0o644))
	err = m.LoadAdapter(broken, "x")
	require.ErrorIs(t, err, torchbin.ErrLegacy)
	assert.Contains(t, err.Error(), filepath.Join(broken, TorchWeightsFile))
	assert.Equal(t, []string{"a"}, m.Adapters(), "nothing attached")
}
