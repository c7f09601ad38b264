package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model"
)

// wideVocabGPT2 is a one-layer GPT-2 whose 3000-token vocabulary makes the
// tied embedding (375 KiB) and a batch's logits the only tensors over a
// 64 KiB binding limit.
const wideVocabGPT2 = `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"vocab_size":3000,"n_embd":32,
	"n_layer":1,"n_head":2,"n_positions":64,"initializer_range":0.3}`

// TestTrainSplitLogitsOnWebGPU trains through the CLI on a WebGPU adapter
// whose binding limit is lowered to 64 KiB (webgpu.BindingLimitEnv), so
// that the embedding, the tied LM head, every batch's logits and their
// gradient are held in several buffers: the run completes and the
// adapter lowers the loss `ia3 eval` measures on the CPU.
func TestTrainSplitLogitsOnWebGPU(t *testing.T) {
	webgputest.Open(t) // skips, or fails under IA3_REQUIRE_GPU=1, without an adapter
	dir, data := tinyModelDir(t)
	cfg, err := model.ParseConfig([]byte(wideVocabGPT2))
	require.NoError(t, err)
	cpu, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer cpu.Close()
	m, err := model.NewRandom(cfg, cpu, 3)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "config.json")))
	require.NoError(t, m.Save(dir))
	m.Free()

	t.Setenv(webgpu.BindingLimitEnv, "64KiB")
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "4", "--batch-size", "4", "--lr", "0.05",
		"--device", "gpu", "--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "step 4/4")
	base := evalLoss(t, "--model", dir, "--data", data)
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", out)
	assert.Less(t, tuned, base)
}
