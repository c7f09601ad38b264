package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestQuantizeFlag checks that every command that loads a base model for
// computing takes --quantize, and that a bad value is a usage error.
func TestQuantizeFlag(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	for _, name := range []string{"train", "forward", "generate", "eval", "serve"} {
		c, _, err := root.Find([]string{name})
		require.NoError(t, err, name)
		assert.NotNil(t, c.Flags().Lookup("quantize"), "%s --quantize", name)
	}
	c := fixture(t, "llama")
	r := run(t, "forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--quantize", "int4",
		"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", filepath.Join(t.TempDir(), "x.safetensors"))
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, `--quantize "int4": want int8 or nf4`)
}

// TestForwardQuantized runs `ia3 forward --quantize` with an adapter, and
// with the adapter merged (requantized), on the llama fixture: the logits
// stay within the quantized bases' stated tolerance of PEFT's float32 ones
// (model's TestQuantizedFixtureLogits).
func TestForwardQuantized(t *testing.T) {
	c := fixture(t, "llama")
	exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
	require.NoError(t, err)
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	for _, tc := range []struct {
		q, key string
		extra  []string
		tol    float64 // relative to max(1, max|logits|)
	}{{"int8", "logits_a", nil, 0.05}, {"nf4", "logits_a", nil, 0.6}, {"nf4", "logits_merged_a", []string{"--merge"}, 0.6}} {
		t.Run(tc.q+"/"+tc.key, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "logits.safetensors")
			args := append([]string{"forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--quantize", tc.q,
				"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out,
				"--adapter", filepath.Join(c.Dir, "adapters", "a")}, tc.extra...)
			r := run(t, args...)
			require.Equal(t, 0, r.code, r.stderr)
			got, err := modeltest.ReadTensors(out)
			require.NoError(t, err)
			ref := exp[tc.key]
			require.Equal(t, ref.Shape, got["logits"].Shape)
			// Scale the fixtures' float32 tolerance (1e-4·max(1, max|ref|))
			// up to the quantized one.
			diff, tol, _ := modeltest.CompareLogits(got["logits"].Data, got["logits"].Shape, ref, in.AttentionMask, c.Meta.TaskType)
			t.Logf("--quantize %s: max |logits − PEFT's float32 logits| = %.4f", tc.q, diff)
			assert.LessOrEqual(t, diff, tol/1e-4*tc.tol)
			assert.Positive(t, diff, "the logits did come from quantized weights")
		})
	}
}

// TestTrainEvalGenerateQuantized trains through the CLI on an NF4 base of
// the GPT-2 fixture, checks with `ia3 eval --quantize nf4` that the adapter
// lowers the loss, that it lowers the float32 base's loss too (it is an
// ordinary adapter), and generates with it on the quantized base.
func TestTrainEvalGenerateQuantized(t *testing.T) {
	dir, data := tinyModelDir(t)
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "4", "--batch-size", "4", "--lr", "0.05",
		"--device", "cpu", "--no-plot", "--out", out, "--quantize", "nf4")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "adapter saved to "+out)
	base := evalLoss(t, "--model", dir, "--data", data, "--quantize", "nf4")
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", out, "--quantize", "nf4")
	assert.Less(t, tuned, base, "the adapter lowers the loss on the NF4 base")
	f32 := evalLoss(t, "--model", dir, "--data", data)
	onF32 := evalLoss(t, "--model", dir, "--data", data, "--adapter", out)
	assert.Less(t, onF32, f32, "and on the float32 base")
	assert.NotEqual(t, f32, base, "the NF4 base is not the float32 one")
	r = run(t, "generate", "--model", dir, "--adapter", out, "--device", "cpu", "--prompt", "the quick",
		"--max-new-tokens", "4", "--json", "--quantize", "nf4")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"ids"`)
}

// TestServeQuantized serves the GPT-2 fixture on an NF4 base with an
// adapter: a greedy completion through HTTP gives the ids `ia3 generate
// --quantize nf4` prints (the batched server scales rows per adapter on
// the quantized weights).
func TestServeQuantized(t *testing.T) {
	dir, _ := tinyModelDir(t)
	adapter := filepath.Join(fixture(t, "gpt2").Dir, "adapters", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, _, errOut, code := startServe(ctx, t, "--model", dir, "--adapter", adapter+"=a", "--device", "cpu", "--quantize", "nf4")

	r := run(t, "generate", "--model", dir, "--adapter", adapter, "--max-new-tokens", "6", "--device", "cpu",
		"--json", "--prompt", "the quick brown fox", "--quantize", "nf4")
	require.Equal(t, 0, r.code, r.stderr)
	var want struct {
		IDs []int32 `json:"ids"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &want))
	body, err := json.Marshal(map[string]any{"model": "a", "max_tokens": 6, "temperature": 0, "prompt": "the quick brown fox"})
	require.NoError(t, err)
	resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got struct {
		Choices []struct {
			TokenIDs []int32 `json:"token_ids"`
		} `json:"choices"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Len(t, got.Choices, 1)
	assert.Equal(t, want.IDs, got.Choices[0].TokenIDs)

	stopServe(t, cancel, code, errOut)
}
