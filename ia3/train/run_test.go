package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// TestRunCausalLM trains on {"text"} data with an eval split and
// checkpoints, and checks the loss falls and every file is written.
func TestRunCausalLM(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	out := t.TempDir()
	res, err := Run(context.Background(), Options{
		ModelDir: dir, TrainFile: writeJSONL(t, textLines(24)...), EvalFraction: 0.25, EvalEvery: 3,
		OutDir: out, Backend: b, BatchSize: 4, Epochs: 3, LR: 0.05, CheckpointEvery: 4, Seed: 1,
	})
	require.NoError(t, err)
	assert.Equal(t, 18, res.TrainExamples)
	assert.Equal(t, 6, res.EvalExamples)
	assert.Equal(t, 15, res.Steps) // 3 epochs × ceil(18/4)
	require.Len(t, res.Losses, 15)
	assert.Less(t, res.Losses[14], res.Losses[0], "loss should fall")
	require.Len(t, res.Evals, 5)
	assert.Equal(t, 15, res.Evals[4].Step)
	assert.Less(t, res.Evals[4].Loss, res.Evals[0].Loss, "eval loss should fall")
	assert.Positive(t, res.Tokens)
	for _, f := range []string{ia3.ConfigFile, ia3.WeightsFile, PlotFile, "checkpoint-12/" + OptimizerFile, "checkpoint-12/" + StateFile, "checkpoint-12/" + ia3.WeightsFile} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	assert.Equal(t, filepath.Join(out, "checkpoint-12"), res.LastCheckpoint)

	// The saved adapter evaluates to the last eval loss.
	m, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, AdapterDir: out, DataFile: writeJSONL(t, textLines(24)...), Backend: b})
	require.NoError(t, err)
	assert.Equal(t, 24, m.Examples)
	assert.False(t, m.HasAccuracy)
	base, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: writeJSONL(t, textLines(24)...), Backend: b})
	require.NoError(t, err)
	assert.Less(t, m.Loss, base.Loss, "the adapter should beat the base model")
}

// TestRunTasks trains each data format for a few steps.
func TestRunTasks(t *testing.T) {
	b := openCPU(t)
	for _, tc := range []struct {
		name, fixture string
		lines         []string
		accuracy      bool
	}{
		{"prompt-completion", "llama", []string{`{"prompt": "Q: cat? A:", "completion": " meow"}`, `{"prompt": "Q: dog? A:", "completion": " woof"}`, `{"prompt": "Q: cow? A:", "completion": " moo"}`}, false},
		{"seq2seq", "t5", []string{`{"input": "translate: cat", "target": "chat"}`, `{"input": "translate: dog", "target": "chien"}`, `{"input": "translate: cow", "target": "vache"}`}, false},
		{"classification", "bert", []string{`{"text": "good", "label": 0}`, `{"text": "bad", "label": 1}`, `{"text": "meh", "label": 2}`, `{"text": "great", "label": 0}`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := modelDir(t, tc.fixture)
			out := t.TempDir()
			data := writeJSONL(t, tc.lines...)
			res, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: data, EvalFile: data,
				OutDir: out, Backend: b, BatchSize: 2, MaxSteps: 6, LR: 0.05, NoPlot: true})
			require.NoError(t, err)
			require.Len(t, res.Losses, 6)
			assert.Less(t, res.Losses[5], res.Losses[0])
			require.Len(t, res.Evals, 1)
			assert.Equal(t, tc.accuracy, res.Evals[0].HasAccuracy)
			assert.NoFileExists(t, filepath.Join(out, PlotFile))
			cfg, err := ia3.LoadConfig(out)
			require.NoError(t, err)
			mc, err := model.LoadConfig(dir)
			require.NoError(t, err)
			assert.Equal(t, mc.TaskType, cfg.TaskType)
		})
	}
}

// TestRunMissingTokenizer names the missing file.
func TestRunMissingTokenizer(t *testing.T) {
	dir := modelDir(t, "gpt2")
	require.NoError(t, os.Remove(filepath.Join(dir, "tokenizer.json")))
	_, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: writeJSONL(t, textLines(2)...), OutDir: t.TempDir(), Backend: openCPU(t)})
	require.ErrorContains(t, err, "has no tokenizer.json")
}

// TestRunOnWebGPU trains the same run on the CPU and on a WebGPU adapter
// (clipping, accumulation and a warmup schedule on) and compares the
// losses, evaluations and saved adapters.
func TestRunOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	dir := modelDir(t, "gpt2")
	data := writeJSONL(t, textLines(12)...)
	run := func(b backend.Backend) (*Result, string) {
		out := t.TempDir()
		res, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: data, EvalFraction: 0.25, OutDir: out, Backend: b,
			BatchSize: 3, GradAccum: 2, MaxSteps: 4, LR: 0.05, Schedule: ScheduleLinear, WarmupSteps: 1, MaxGradNorm: 0.5, NoPlot: true})
		require.NoError(t, err)
		return res, out
	}
	want, wantDir := run(openCPU(t))
	got, gotDir := run(gpu)
	require.Len(t, got.Losses, len(want.Losses))
	for i := range want.Losses {
		assert.InDelta(t, want.Losses[i], got.Losses[i], 1e-4*want.Losses[i], "loss of step %d", i+1)
	}
	require.Len(t, got.Evals, 1)
	assert.InDelta(t, want.Evals[0].Loss, got.Evals[0].Loss, 1e-4*want.Evals[0].Loss)
	assertSameAdapter(t, wantDir, gotDir, 1e-4)
}
