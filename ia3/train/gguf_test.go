package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// TestRunOnGGUF trains on a GGUF base (the llama fixture stored as Q8_0 by
// llama.cpp's gguf-py, with its tokenizer in the file's metadata) and checks
// that the adapter it saves is a normal PEFT adapter of the Hugging Face
// model: the same config modules and the same tensor names and shapes as
// the adapter PEFT itself trained on the llama fixture checkpoint.
func TestRunOnGGUF(t *testing.T) {
	b := openCPU(t)
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	base := filepath.Join(root, "testdata", "gguf", "llama-q8_0.gguf")
	out := t.TempDir()
	res, err := Run(context.Background(), Options{ModelDir: base, TrainFile: writeJSONL(t, textLines(12)...),
		OutDir: out, Backend: b, BatchSize: 4, Epochs: 3, LR: 0.05, Seed: 1, NoPlot: true})
	require.NoError(t, err)
	require.Len(t, res.Losses, 9)
	assert.Less(t, res.Losses[8], res.Losses[0], "loss should fall")

	peftDir := filepath.Join(modeltest.Path(t, "peft/llama"), "train", "adapter")
	want, err := safetensors.Open(filepath.Join(peftDir, ia3.WeightsFile))
	require.NoError(t, err)
	defer want.Close()
	got, err := safetensors.Open(filepath.Join(out, ia3.WeightsFile))
	require.NoError(t, err)
	defer got.Close()
	require.Equal(t, want.Names(), got.Names())
	for _, n := range want.Names() {
		wi, _ := want.Info(n)
		gi, _ := got.Info(n)
		assert.Equal(t, wi.Shape, gi.Shape, n)
		assert.Equal(t, wi.DType, gi.DType, n)
	}
	wantCfg, gotCfg := readAdapterConfig(t, peftDir), readAdapterConfig(t, out)
	for _, k := range []string{"peft_type", "task_type", "target_modules", "feedforward_modules", "fan_in_fan_out"} {
		assert.ElementsMatch(t, asList(wantCfg[k]), asList(gotCfg[k]), k)
	}

	// It applies to the Hugging Face checkpoint as any PEFT adapter does.
	hf, err := model.Load(context.Background(), modeltest.Path(t, "peft/llama/base"), b)
	require.NoError(t, err)
	defer hf.Free()
	pm, err := ia3.FromPretrained(hf, out, "gguf", false)
	require.NoError(t, err)
	assert.Len(t, pm.Layers(), 6)
}

func readAdapterConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, ia3.ConfigFile))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// asList turns a scalar into a one-element list so that lists compare as
// sets and scalars as values.
func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
