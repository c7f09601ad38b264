package model

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/model/torchbin"
)

// torchbinDir returns testdata/torchbin/<name>, the checkpoints torch.save
// wrote from the qwen2 fixture (testdata/torchbin/make_bin.py).
func torchbinDir(t *testing.T, name string) string {
	t.Helper()
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	return filepath.Join(root, "testdata", "torchbin", name)
}

// safetensorsTwin writes the tensors of a torch checkpoint directory,
// byte for byte in their stored dtype, as model.safetensors beside a copy
// of its config.json.
func safetensorsTwin(t *testing.T, binDir string) string {
	t.Helper()
	ck, err := torchbin.OpenDir(binDir)
	require.NoError(t, err)
	defer ck.Close()
	ts := allTensors(t, ck)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(binDir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, nil))
	return dir
}

// TestLoadTorchBinMatchesSafetensors loads qwen2 checkpoints that
// torch.save wrote (float32 with the tied lm_head on the embedding's
// storage, float16, bfloat16 in two shards with an index) and checks that
// their logits equal those of the same weights read from safetensors: the
// fixture itself for float32, a safetensors copy of the stored bytes for
// the half types (torchbin's tests compare those with the fixture).
func TestLoadTorchBinMatchesSafetensors(t *testing.T) {
	c := fixtureCase(t, "qwen2")
	b := testBackend(t)
	ctx := context.Background()
	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
	require.NoError(t, err)
	tests := []struct {
		dir   string
		twin  func(t *testing.T, binDir string) string
		dtype string
	}{
		{"qwen2_f32", func(*testing.T, string) string { return filepath.Join(c.Dir, "base") }, safetensors.F32},
		{"qwen2_f16", safetensorsTwin, safetensors.F16},
		{"qwen2_bf16_sharded", safetensorsTwin, safetensors.BF16},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			binDir := torchbinDir(t, tc.dir)
			m, err := Load(ctx, binDir, b)
			require.NoError(t, err)
			defer m.Free()
			twin, err := Load(ctx, tc.twin(t, binDir), b)
			require.NoError(t, err)
			defer twin.Free()
			got, shape := logitsOf(t, m, in)
			want, wantShape := logitsOf(t, twin, in)
			require.Equal(t, wantShape, shape)
			assert.Equal(t, want, got, "logits from %s differ from its safetensors twin", tc.dir)
			assert.Equal(t, tc.dtype, m.dtypes["model.embed_tokens.weight"], "stored dtype kept")
			if tc.dtype == safetensors.F32 {
				modeltest.AssertLogits(t, "base from pytorch_model.bin", got, shape, exp["logits_base_f64"], in.AttentionMask, m.Config().TaskType)
			}
		})
	}
}

// TestOpenWeightsPrefersSafetensors checks the choice between formats:
// safetensors when present (a broken pytorch_model.bin beside it is never
// read), the torch file otherwise, and an error naming every file when
// there is neither.
func TestOpenWeightsPrefersSafetensors(t *testing.T) {
	c := fixtureCase(t, "qwen2")
	b := testBackend(t)
	ctx := context.Background()
	copyFile := func(t *testing.T, src, dst string) {
		raw, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, raw, 0o644))
	}

	both := t.TempDir()
	copyFile(t, filepath.Join(c.Dir, "base", "config.json"), filepath.Join(both, "config.json"))
	copyFile(t, filepath.Join(c.Dir, "base", safetensors.SingleFileName), filepath.Join(both, safetensors.SingleFileName))
	require.NoError(t, os.WriteFile(filepath.Join(both, torchbin.SingleFileName), []byte("not a zip"), 0o644))
	m, err := Load(ctx, both, b)
	require.NoError(t, err, "safetensors is read, the broken .bin beside it is not")
	m.Free()

	binOnly := t.TempDir()
	copyFile(t, filepath.Join(c.Dir, "base", "config.json"), filepath.Join(binOnly, "config.json"))
	require.NoError(t, os.WriteFile(filepath.Join(binOnly, torchbin.SingleFileName), []byte("not a zip"), 0o644))
	_, err = Load(ctx, binOnly, b)
	require.ErrorIs(t, err, torchbin.ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Join(binOnly, torchbin.SingleFileName))

	none := t.TempDir()
	copyFile(t, filepath.Join(c.Dir, "base", "config.json"), filepath.Join(none, "config.json"))
	_, err = Load(ctx, none, b)
	require.ErrorIs(t, err, fs.ErrNotExist)
	for _, name := range []string{safetensors.SingleFileName, safetensors.IndexFileName, torchbin.SingleFileName, torchbin.IndexFileName} {
		assert.Contains(t, err.Error(), name)
	}
}

// TestLoadTorchBinErrorsNameTensor checks that a shape mismatch in a
// pytorch_model.bin names the file and tensor as for safetensors.
func TestLoadTorchBinErrorsNameTensor(t *testing.T) {
	b := testBackend(t)
	dir := t.TempDir()
	src := torchbinDir(t, "qwen2_f32")
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	// One layer fewer than the file holds: its tensors are unexpected.
	cfg = []byte(replaceOnce(t, string(cfg), `"num_hidden_layers": 2`, `"num_hidden_layers": 1`))
	// layer_types must list one type per layer, as transformers checks.
	cfg = []byte(replaceOnce(t, string(cfg), `"full_attention",
    "full_attention"`, `"full_attention"`))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	raw, err := os.ReadFile(filepath.Join(src, torchbin.SingleFileName))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, torchbin.SingleFileName), raw, 0o644))
	_, err = Load(context.Background(), dir, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, torchbin.SingleFileName))
	assert.Contains(t, err.Error(), `unexpected tensor "model.layers.1.`)
}

// replaceOnce replaces the one occurrence of old in s.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "%q in %q", old, s)
	return strings.Replace(s, old, new, 1)
}
