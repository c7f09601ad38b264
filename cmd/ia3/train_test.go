package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
)

// tinyModelDir returns a model directory holding the GPT-2 fixture's
// checkpoint and a tokenizer whose ids fit its 256-token vocabulary (the
// fixture tokenizers' Unigram one), plus a JSONL file of 16 texts.
func tinyModelDir(t *testing.T) (dir, data string) {
	t.Helper()
	return fixtureModelDir(t, "gpt2")
}

// fixtureModelDir is tinyModelDir for any fixture case.
func fixtureModelDir(t *testing.T, name string) (dir, data string) {
	t.Helper()
	c := fixture(t, name)
	dir = t.TempDir()
	for _, src := range []string{filepath.Join(c.Dir, "base", "config.json"), filepath.Join(c.Dir, "base", "model.safetensors"),
		filepath.Join(filepath.Dir(c.Dir), "tokenizers", "sentencepiece_unigram", "tokenizer.json")} {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644))
	}
	var lines strings.Builder
	for i := range 16 {
		fmt.Fprintf(&lines, `{"text": "the quick brown fox jumps over the lazy dog %d"}`+"\n", i)
	}
	data = filepath.Join(dir, "data.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(lines.String()), 0o644))
	return dir, data
}

// evalLoss runs `ia3 eval --json` and returns the loss.
func evalLoss(t *testing.T, args ...string) float64 {
	t.Helper()
	r := run(t, append([]string{"eval", "--device", "cpu", "--json"}, args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	var e evalJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e))
	assert.Equal(t, 16, e.Examples)
	return e.Loss
}

// TestTrainEvalGenerate trains a few steps through the CLI, checks that
// the adapter lowers the loss `ia3 eval` measures, and generates with it:
// greedy output is repeatable, and so is sampling with one seed.
func TestTrainEvalGenerate(t *testing.T) {
	dir, data := tinyModelDir(t)
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "4", "--batch-size", "4", "--lr", "0.05",
		"--device", "cpu", "--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trainable params: 896 || all params: 121,472 || trainable%: 0.7376")
	assert.Contains(t, r.stdout, "adapter saved to "+out)
	assert.Contains(t, r.stderr, "step 4/4")
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	base := evalLoss(t, "--model", dir, "--data", data)
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", out)
	assert.Less(t, tuned, base, "the trained adapter lowers the loss")

	gen := func(extra ...string) (map[string]any, string) {
		r := run(t, append([]string{"generate", "--model", dir, "--adapter", out, "--device", "cpu",
			"--prompt", "the quick", "--max-new-tokens", "6"}, extra...)...)
		require.Equal(t, 0, r.code, r.stderr)
		if !strings.Contains(strings.Join(extra, " "), "--json") {
			return nil, r.stdout
		}
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &v))
		return v, r.stdout
	}
	g1, _ := gen("--json")
	g2, _ := gen("--json")
	assert.Equal(t, g1, g2, "greedy repeats")
	assert.Len(t, g1["ids"], 6)
	_, streamed := gen()
	assert.Equal(t, "the quick"+g1["text"].(string)+"\n", streamed, "streamed text equals the decoded ids")
	// A batch of two prompts (one left-padded) gives each its own greedy
	// continuation, one JSON line per prompt.
	r = run(t, "generate", "--model", dir, "--adapter", out, "--device", "cpu", "--max-new-tokens", "6",
		"--prompt", "the quick", "--prompt", "over the lazy dog", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	assert.Equal(t, g1, first, "batched row equals the prompt alone")
	r = run(t, "generate", "--model", dir, "--adapter", out, "--device", "cpu", "--max-new-tokens", "6",
		"--prompt", "over the lazy dog", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.JSONEq(t, lines[1], r.stdout)

	s1, _ := gen("--json", "--temperature", "1.2", "--top-p", "0.9", "--seed", "5")
	s2, _ := gen("--json", "--temperature", "1.2", "--top-p", "0.9", "--seed", "5")
	assert.Equal(t, s1, s2, "one seed, one sample")
}

// cancelAfter is a writer that cancels a context once it has seen a
// marker: here, the progress line of the first step.
type cancelAfter struct {
	bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.marker) {
		w.cancel()
	}
	return n, err
}

// TestTrainInterrupted cancels a run after its first step (as Ctrl-C
// does): it exits with code 130 and one line naming the checkpoint, and
// --resume latest finishes the run. A run cancelled before it starts
// exits with 130 too.
func TestTrainInterrupted(t *testing.T) {
	dir, data := tinyModelDir(t)
	out := filepath.Join(t.TempDir(), "a")
	args := []string{"train", "--model", dir, "--data", data, "--steps", "6", "--batch-size", "2", "--device", "cpu",
		"--no-plot", "--out", out}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := &cancelAfter{marker: "step 1/6", cancel: cancel}
	code := execute(ctx, args, &bytes.Buffer{}, errOut)
	require.Equal(t, exitInterrupted, code, errOut.String())
	last := errOut.String()[strings.LastIndex(strings.TrimSuffix(errOut.String(), "\n"), "\n")+1:]
	assert.Contains(t, last, "training interrupted after step")
	assert.Contains(t, last, filepath.Join(out, "checkpoint-"))

	r := run(t, append(args, "--resume", "latest")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trained 6 steps")
	assert.FileExists(t, filepath.Join(out, "adapter_model.safetensors"))

	cancelled, stop := context.WithCancel(context.Background())
	stop()
	var stderr bytes.Buffer
	code = execute(cancelled, args, &bytes.Buffer{}, &stderr)
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stderr.String(), "ia3: interrupted")
}

// TestTrainDemo runs the README's first command, `ia3 train`, with a few
// steps: the adapter, the base model with its tokenizer and the loss curve
// land in --out, and the printed next command generates from them.
func TestTrainDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	r := run(t, "train", "--steps", "3", "--out", out, "--device", "cpu")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trained 3 steps")
	assert.Contains(t, r.stdout, "trainable: 1,792 (IA)³ numbers + 32,768 in the lm_head copy (modules_to_save, 95% of them)")
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "loss.png",
		"base/config.json", "base/model.safetensors", "base/tokenizer.json"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	r = run(t, "generate", "--model", filepath.Join(out, "base"), "--adapter", out, "--prompt", "The ",
		"--max-new-tokens", "5", "--device", "cpu", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"ids":[`)

	r = run(t, "train", "--lr", "0.1")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--lr needs --model and --data")
}

// TestGenerateT5 generates with the T5 fixture through the CLI: the
// prompt goes to the encoder, and the ids equal model.Generate's on the
// same encoded prompt.
func TestGenerateT5(t *testing.T) {
	dir, _ := fixtureModelDir(t, "t5")
	r := run(t, "generate", "--model", dir, "--device", "cpu", "--prompt", "translate: the dog", "--max-new-tokens", "5", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got struct {
		PromptIDs []int32 `json:"prompt_ids"`
		IDs       []int32 `json:"ids"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.NotEmpty(t, got.IDs)

	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	m, err := model.Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer m.Free()
	want, err := m.Generate(context.Background(), [][]int32{got.PromptIDs}, model.GenerateOptions{MaxNewTokens: 5})
	require.NoError(t, err)
	assert.Equal(t, want[0], got.IDs)
}

// TestTrainFusedKVOnly trains GPT-2 with --fused-kv-only: c_attn's
// vectors cover the key and value outputs only (2·64 of 3·64), the saved
// config carries the extension key, the adapter lowers the loss, and
// `ia3 inspect` shows the shorter vectors. On BERT, which has no fused
// projection, the flag is refused naming the key.
func TestTrainFusedKVOnly(t *testing.T) {
	dir, data := tinyModelDir(t)
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "4", "--batch-size", "4", "--lr", "0.05",
		"--device", "cpu", "--no-plot", "--fused-kv-only", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	// 2 blocks × (c_attn 2·64 + mlp.c_proj 256), against 896 without the flag.
	assert.Contains(t, r.stdout, "trainable params: 768 || all params: 121,344")
	raw, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, true, cfg["ia3_fused_kv_only"])
	base := evalLoss(t, "--model", dir, "--data", data)
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", out)
	assert.Less(t, tuned, base, "the trained adapter lowers the loss")

	r = run(t, "inspect", "--model", dir, "--fused-kv-only")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "k,v outputs")
	assert.Contains(t, r.stdout, "[128 1]")

	r = run(t, "inspect", "--model", filepath.Join(fixture(t, "bert").Dir, "base"), "--fused-kv-only")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "ia3_fused_kv_only")
}
