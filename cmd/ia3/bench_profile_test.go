package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchProfile runs `ia3 bench --profile` on the tiny GPT-2: the table
// follows the usual results, and --json carries the same rows.
func TestBenchProfile(t *testing.T) {
	args := []string{"bench", "--shape", "tiny-gpt2", "--device", "cpu", "--batch", "2", "--seq", "8",
		"--profile", "--steps", "1", "--warmup", "1"}
	r := run(t, args...)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	out := r.stdout
	assert.Contains(t, out, "train step")
	assert.Contains(t, out, "profile of the train phase over 1 step(s), a device Sync after every operation")
	require.Contains(t, out, "calls  total ms  mean ms")
	table := out[strings.Index(out, "calls  total ms"):]
	for _, op := range []string{"Linear 16×64→192", "Attention", "AttentionBackward", "AdamW", "total"} {
		assert.Contains(t, table, op)
	}

	r = run(t, append(args, "--json", "--no-train")...)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var res struct {
		Phase   string  `json:"profile_phase"`
		StepS   float64 `json:"profile_step_s"`
		Profile []struct {
			Op      string  `json:"op"`
			Calls   int     `json:"calls"`
			TotalMS float64 `json:"total_ms"`
			MeanMS  float64 `json:"mean_ms"`
			Percent float64 `json:"percent"`
		} `json:"profile"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	assert.Equal(t, "forward", res.Phase)
	assert.Positive(t, res.StepS)
	require.NotEmpty(t, res.Profile)
	var percent float64
	calls := map[string]int{}
	for _, row := range res.Profile {
		percent += row.Percent
		calls[row.Op] = row.Calls
	}
	assert.InDelta(t, 100, percent, 1e-6)
	assert.Equal(t, 2, calls["Attention"], "one per layer of the tiny GPT-2")
	assert.Zero(t, calls["AdamW"], "a forward pass has no optimiser step")
}
