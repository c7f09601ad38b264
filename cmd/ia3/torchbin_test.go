package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// TestForwardTorchBin runs forward on a checkpoint torch.save wrote
// (testdata/torchbin/qwen2_f32, pytorch_model.bin only) and on the
// safetensors fixture it was made from: the logits are identical.
func TestForwardTorchBin(t *testing.T) {
	c := fixture(t, "qwen2")
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	in := filepath.Join(c.Dir, "inputs.safetensors")
	logits := func(model string) []float32 {
		out := filepath.Join(t.TempDir(), "logits.safetensors")
		r := run(t, "forward", "--model", model, "--device", "cpu", "--inputs", in, "--out", out)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		f, err := safetensors.Open(out)
		require.NoError(t, err)
		defer f.Close()
		v, err := f.Float32("logits")
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, logits(filepath.Join(c.Dir, "base")), logits(filepath.Join(root, "testdata", "torchbin", "qwen2_f32")))
}

// TestForwardRefusesPickledCode: a pytorch_model.bin whose pickle calls
// os.system (what a malicious checkpoint does) is refused on one line
// naming the file and the global, and nothing runs.
func TestForwardRefusesPickledCode(t *testing.T) {
	c := fixture(t, "qwen2")
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(c.Dir, "base", "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	bin := filepath.Join(dir, "pytorch_model.bin")
	f, err := os.Create(bin)
	require.NoError(t, err)
	w := zip.NewWriter(f)
	rec, err := w.Create("pytorch_model/data.pkl")
	require.NoError(t, err)
	marker := filepath.Join(dir, "ran")
	// {"w": os.system("touch <marker>")}, protocol 2.
	cmd := "touch " + marker
	pkl := []byte("\x80\x02}X\x01\x00\x00\x00wcos\nsystem\nX")
	pkl = append(pkl, byte(len(cmd)), 0, 0, 0)
	pkl = append(pkl, cmd...)
	pkl = append(pkl, "\x85Rs."...)
	_, err = rec.Write(pkl)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())

	checkHostile(t, []hostile{{"forward", []string{"forward", "--model", dir, "--device", "cpu",
		"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", filepath.Join(dir, "out.safetensors")},
		[]string{bin, "global os.system is not allowed"}}})
	assert.NoFileExists(t, marker, "the pickled command did not run")
}
