package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/bench"
)

// TestBenchCommand runs `ia3 bench` on the tiny shapes and on a
// config.json: the JSON carries the anchor script's field names with
// consistent values, and the table names each phase.
func TestBenchCommand(t *testing.T) {
	args := []string{"bench", "--device", "cpu", "--batch", "2", "--seq", "8", "--steps", "2", "--warmup", "1"}
	r := run(t, append(args, "--shape", "tiny-llama", "--json")...)
	require.Equal(t, 0, r.code, r.stderr)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	for _, k := range []string{"train_step_s", "train_tokens_per_s", "forward_tokens_per_s", "peak_mem_gib", "params", "trainable", "batch", "seq"} {
		assert.Contains(t, raw, k)
	}
	var res bench.Result
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	assert.Equal(t, "tiny-llama", res.Shape)
	assert.InDelta(t, 16/res.TrainStepS, res.TrainTokensPerS, 1e-6*res.TrainTokensPerS)

	r = run(t, append(args, "--shape", "tiny-gpt2", "--no-forward", "--generate", "3")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "train step")
	assert.Contains(t, r.stdout, "generate 3")
	assert.NotContains(t, r.stdout, "forward ")

	c := fixture(t, "llama")
	r = run(t, append(args, "--config", filepath.Join(c.Dir, "base", "config.json"), "--json")...)
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	assert.Equal(t, "llama", res.ModelType)
}

// TestConformanceOps runs one operation of the suite on the CPU through
// the CLI, with the JSON report written to a file.
func TestConformanceOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.json")
	r := run(t, "conformance", "--ops", "--device", "cpu", "--filter", "^Add$", "--json", path)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Add")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.NotEmpty(t, rep)

	r = run(t, "conformance", "--ops", "--device", "cpu", "--filter", "(")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `--filter "("`)
}

// TestConformanceFixtures runs the model-level suite on the GPT-2 fixture
// case on the CPU through the CLI: every row passes and the JSON report
// is written.
func TestConformanceFixtures(t *testing.T) {
	c := fixture(t, "gpt2")
	path := filepath.Join(t.TempDir(), "fixtures.json")
	r := run(t, "conformance", "--fixtures", filepath.Dir(c.Dir), "--filter", "^gpt2$", "--device", "cpu", "--json", path)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "logits_weighted_w")
	assert.Contains(t, r.stdout, "0 failed")
	assert.FileExists(t, path)
}
