package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/safetensors"
)

// tinyLlamaConfig is TinyLlama-1.1B's shape (4.1 GiB of F32 weights).
const tinyLlamaConfig = `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":2048,
	"intermediate_size":5632,"num_hidden_layers":22,"num_attention_heads":32,"num_key_value_heads":4,
	"vocab_size":32000,"max_position_embeddings":2048,"tie_word_embeddings":false}`

// discreteGPU is a WebGPU adapter that reports buffer limits but no memory.
var discreteGPU = backend.DeviceInfo{Spec: "gpu:0", Type: "DiscreteGPU", API: "Vulkan",
	Limits: map[string]uint64{"maxStorageBufferBindingSize": 2 << 30, "maxBufferSize": 4 << 30}}

// TestCheckRunFits checks the refusals and their advice in bytes: the plan
// against --memory-limit, the largest batch or length that fits, the
// --quantize that would, and the training logits against the binding limit.
func TestCheckRunFits(t *testing.T) {
	llama, err := model.ParseConfig([]byte(tinyLlamaConfig))
	require.NoError(t, err)
	gpt2, err := model.ParseConfig([]byte(`{"model_type": "gpt2"}`))
	require.NoError(t, err)
	const gib = 1 << 30
	for _, tc := range []struct {
		name string
		cfg  *model.Config
		info backend.DeviceInfo
		r    runShape
		want string // "" when the run fits
	}{
		{"fits in 8 GiB", llama, discreteGPU, runShape{Batch: 1, Seq: 512, MemoryLimit: 8 * gib}, ""},
		{"weights alone over 4 GiB: quantise", llama, discreteGPU, runShape{Batch: 1, Seq: 512, MemoryLimit: 4 * gib},
			"a forward pass of 1 × 512 tokens needs at least 4.2 GiB (4.1 GiB of float32 weights for 1.1e+09 parameters, " +
				"121.5 MiB of activations), more than the 4.0 GiB that gpu:0 has (--memory-limit): it fits with --quantize int8"},
		{"training: batch, length or quantise", llama, discreteGPU, runShape{Batch: 8, Seq: 512, Training: true,
			BatchFlag: "--batch-size", SeqFlag: "--max-len", MemoryLimit: 16 * gib},
			"a training step of 8 × 512 tokens needs at least 18.5 GiB (4.1 GiB of float32 weights for 1.1e+09 parameters, " +
				"14.4 GiB of activations, 2.1 MiB of trained vectors, gradients and AdamW state), more than the 16.0 GiB that gpu:0 has " +
				"(--memory-limit): it fits with --batch-size 6, or --max-len 445, or --quantize int8"},
		{"nf4 when int8 is not enough", llama, discreteGPU, runShape{Batch: 1, Seq: 64, MemoryLimit: 1 * gib},
			"a forward pass of 1 × 64 tokens needs at least 4.1 GiB (4.1 GiB of float32 weights for 1.1e+09 parameters, " +
				"11.7 MiB of activations), more than the 1.0 GiB that gpu:0 has (--memory-limit): it fits with --quantize nf4"},
		{"already nf4, too small", llama, discreteGPU, runShape{Batch: 1, Seq: 64, MemoryLimit: 512 << 20, WeightBytes: 2,
			ProjBytesPerWeight: model.BytesPerWeightNF4},
			"a forward pass of 1 × 64 tokens needs at least 738.4 MiB (726.7 MiB of 0.5159-byte projection and 2-byte other weights " +
				"for 1.1e+09 parameters, 11.7 MiB of activations), more than the 512.0 MiB that gpu:0 has (--memory-limit): " +
				"it does not fit even at a batch of 1 and a length of 1"},
		{"generation counts the KV cache", llama, discreteGPU, runShape{Batch: 64, Seq: 1024, NewTokens: 1024, MemoryLimit: 8 * gib},
			"generating 1024 tokens after prompts of 64 × 1024 tokens needs at least 21.0 GiB (4.1 GiB of float32 weights for " +
				"1.1e+09 parameters, 11.4 GiB of activations, 5.5 GiB of KV cache), more than the 8.0 GiB that gpu:0 has " +
				"(--memory-limit): it fits with a batch of 14, or a length of 159"},
		{"gpt2 over 16 GiB", gpt2, discreteGPU, runShape{Batch: 64, Seq: 512, Training: true,
			BatchFlag: "--batch-size", SeqFlag: "--max-len", MemoryLimit: 16 * gib},
			"a training step of 64 × 512 tokens needs at least 37.5 GiB (474.2 MiB of float32 weights for 1.24e+08 parameters, " +
				"37.0 GiB of activations, 864.0 KiB of trained vectors, gradients and AdamW state), more than the 16.0 GiB that gpu:0 " +
				"has (--memory-limit): it fits with --batch-size 26, or --max-len 245"},
		{"training logits over the binding limit are split", gpt2, discreteGPU, runShape{Batch: 64, Seq: 512, Training: true}, ""},
		{"forward logits over the binding limit are split", gpt2, discreteGPU, runShape{Batch: 64, Seq: 512}, ""},
		{"no memory and no limits reported", gpt2, backend.DeviceInfo{Spec: "gpu:0", Type: "DiscreteGPU"},
			runShape{Batch: 64, Seq: 512, Training: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRunFits(tc.info, tc.cfg, tc.r)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestLargest(t *testing.T) {
	for _, tc := range []struct{ hi, limit, want int }{{10, 7, 7}, {10, 10, 10}, {10, 20, 10}, {10, 0, 0}, {0, 5, 0}, {1 << 30, 12345, 12345}} {
		assert.Equal(t, tc.want, largest(tc.hi, func(n int) bool { return n <= tc.limit }), "hi %d limit %d", tc.hi, tc.limit)
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{{"", 0}, {"1024", 1024}, {"16GiB", 16 << 30}, {"16 GiB", 16 << 30}, {"12000MiB", 12000 << 20}, {"8G", 8 << 30},
		{"8GB", 8e9}, {"1.5GiB", 3 << 29}, {"8e9", 8e9}, {"512kib", 512 << 10}} {
		got, err := parseByteSize(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"x", "-1GiB", "0", "GiB", "1e30"} {
		_, err := parseByteSize(bad)
		assert.ErrorContains(t, err, "--memory-limit", bad)
	}
}

// TestMemoryLimitRefusals runs the commands with --memory-limit on
// TinyLlama's shape (a config without weights: the refusal comes first).
func TestMemoryLimitRefusals(t *testing.T) {
	dir := modelDirWith(t, tinyLlamaConfig)
	data := writeFile(t, t.TempDir(), "data.jsonl", `{"text": "hello"}`+"\n")
	checkHostile(t, []hostile{
		{"train", []string{"train", "--model", dir, "--data", data, "--device", "cpu", "--batch-size", "8", "--max-len", "512",
			"--memory-limit", "16GiB", "--out", filepath.Join(t.TempDir(), "out")},
			[]string{"a training step of 8 × 512 tokens needs at least 18.5 GiB", "more than the 16.0 GiB that cpu has (--memory-limit)",
				"it fits with --batch-size 6, or --max-len 445, or --quantize int8"}},
		{"eval", []string{"eval", "--model", dir, "--data", data, "--device", "cpu", "--memory-limit", "2GiB"},
			[]string{"a forward pass of 8 × 512 tokens needs at least", "more than the 2.0 GiB", "it fits with --quantize nf4"}},
	})
	r := run(t, "eval", "--model", dir, "--data", data, "--device", "cpu", "--memory-limit", "lots")
	assert.Equal(t, 2, r.code, "a usage error")
	assert.Contains(t, r.stderr, `--memory-limit "lots": want a positive size`)
}

// TestInspectPlan checks `ia3 inspect --plan` on the GPT-2 fixture (h 64,
// 2 layers, vocabulary 256, tied) by hand: 98,304 projection and 20,480
// other weights (475,136 bytes), a 2 × 16 training step's activations
// 4·(2·(32·(6·64 + 2·256) + 32·4·16) + 2·32·256) = 311,296 bytes and
// 896 trained parameters × 16 bytes.
func TestInspectPlan(t *testing.T) {
	dir := filepath.Join(fixture(t, "gpt2").Dir, "base")
	r := run(t, "inspect", "--model", dir, "--plan", "--train", "--batch", "2", "--seq", "16", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep inspectReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.NotNil(t, rep.Plan)
	assert.Equal(t, planReport{Batch: 2, Seq: 16, Training: true, Weights: 475136, Activations: 311296, Optimizer: 14336,
		Total: 475136 + 311296 + 14336}, *rep.Plan)

	r = run(t, "inspect", "--model", dir, "--plan", "--batch", "1", "--seq", "8", "--new-tokens", "8")
	require.Equal(t, 0, r.code, r.stderr)
	// KV cache: 4 bytes × 2 × 2 layers × 1 row × 16 positions × 64.
	assert.Contains(t, r.stdout, "memory plan of generating 8 tokens after prompts of 1 × 8 tokens (a lower bound):\n"+
		"weights: 464.0 KiB (9.83e+04 projection weights at 4 bytes, 2.05e+04 others at 4 bytes)\n")
	assert.Contains(t, r.stdout, "kv cache: 16.0 KiB (16 positions)\n")

	r = run(t, "inspect", "--model", dir, "--plan", "--batch", "0")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--batch and --seq must be positive")
}

// TestStoredWeightBytes checks the device bytes per weight read from a
// checkpoint's header: 16 F32 and 48 BF16 elements average (64 + 96) / 64.
func TestStoredWeightBytes(t *testing.T) {
	dir := t.TempDir()
	assert.Zero(t, storedWeightBytes(dir), "no checkpoint: the plan assumes F32")
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), []safetensors.Tensor{
		safetensors.F32Tensor("a", []int{4, 4}, make([]float32, 16)),
		{Name: "b", DType: safetensors.BF16, Shape: []int{8, 6}, Data: make([]byte, 96)}}, nil))
	assert.Equal(t, 2.5, storedWeightBytes(dir))
}
