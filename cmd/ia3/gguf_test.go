package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// ggufTestFile is a file llama.cpp's gguf-py wrote (tools/gguf_fixtures.py).
func ggufTestFile(t *testing.T, name string) string {
	t.Helper()
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	return filepath.Join(root, "testdata", "gguf", name)
}

// TestInspectGGUF: `ia3 inspect` on a .gguf file shows the file's summary
// and the IA3 layers of the Hugging Face model it maps to.
func TestInspectGGUF(t *testing.T) {
	path := ggufTestFile(t, "llama-q8_0.gguf")
	r := run(t, "inspect", "--model", path)
	require.Equal(t, 0, r.code, r.stderr)
	for _, want := range []string{
		`gguf: version 3, architecture llama "llama-q8_0.gguf"`,
		"gguf tensors: 21 (F32 5, Q8_0 16)",
		"gguf load: Q8_0 tensors are dequantised to F32",
		"gguf tokenizer: llama, 256 tokens; chat template: yes",
		"model: llama (LlamaForCausalLM, CAUSAL_LM)",
		"model.layers.1.mlp.down_proj",
	} {
		assert.Contains(t, r.stdout, want)
	}

	r = run(t, "inspect", "--model", path, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep inspectReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.NotNil(t, rep.GGUF)
	assert.Equal(t, map[string]int{"F32": 5, "Q8_0": 16}, rep.GGUF.Types)
	assert.Equal(t, 256, rep.GGUF.Vocab)
	assert.Len(t, rep.Layers, 6)
	assert.Equal(t, 1, rep.GGUF.Parts)

	r = run(t, "inspect", "--model", ggufTestFile(t, "llama-split-00001-of-00003.gguf"))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "split into 3 files")
	assert.Contains(t, r.stdout, "gguf tensors: 21 (F32 5, Q8_0 16)")
}

// TestGenerateGGUF: `ia3 generate` runs on a GGUF file's weights and
// tokenizer.
func TestGenerateGGUF(t *testing.T) {
	r := run(t, "generate", "--model", ggufTestFile(t, "llama-q8_0.gguf"), "--prompt", "the cat", "--max-new-tokens", "4")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotEmpty(t, r.stdout)
}

// TestMergeGGUF merges PEFT's llama adapter into the Q8_0 GGUF file: the
// output is a Hugging Face checkpoint with the file's tokenizer and chat
// template, which loads and generates like any other.
func TestMergeGGUF(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	adapter := filepath.Join(modeltest.Path(t, "peft/llama"), "adapters", "a")
	r := run(t, "merge", "--model", ggufTestFile(t, "llama-q8_0.gguf"), "--adapter", adapter, "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	raw, err := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, "<s>", cfg["bos_token"])
	assert.Contains(t, cfg["chat_template"], "add_generation_prompt")
	r = run(t, "generate", "--model", out, "--prompt", "the cat", "--max-new-tokens", "2")
	require.Equal(t, 0, r.code, r.stderr)
}

// TestTrainGGUF: `ia3 train` on a .gguf file trains and saves an adapter;
// `ia3 eval` reads the same file with that adapter.
func TestTrainGGUF(t *testing.T) {
	model := ggufTestFile(t, "llama-q8_0.gguf")
	data := filepath.Join(t.TempDir(), "train.jsonl")
	var lines []byte
	for _, s := range []string{"the cat sat on the mat", "a dog ran in the park", "birds sing at dawn", "the sun is hot"} {
		b, err := json.Marshal(map[string]string{"text": s})
		require.NoError(t, err)
		lines = append(append(lines, b...), '\n')
	}
	require.NoError(t, os.WriteFile(data, lines, 0o644))
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", model, "--data", data, "--out", out, "--epochs", "2", "--batch-size", "2", "--no-plot")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(out, "adapter_model.safetensors"))
	r = run(t, "eval", "--model", model, "--adapter", out, "--data", data)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "loss")
}
