package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model/modeltest"
)

// TestResumeAfterCancel cancels a run mid-way (it saves a checkpoint and
// returns ErrInterrupted), resumes it, and checks that the adapter equals
// the one an uninterrupted run trains, and that the history is whole.
func TestResumeAfterCancel(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	data := writeJSONL(t, textLines(10)...)
	opts := func(out string) Options {
		return Options{ModelDir: dir, TrainFile: data, OutDir: out, Backend: b, BatchSize: 3, GradAccum: 2,
			Epochs: 3, LR: 0.05, Schedule: ScheduleCosine, WarmupSteps: 2, MaxGradNorm: 0.5, Optim: DefaultAdamW(), Seed: 7, NoPlot: true}
	}
	whole := t.TempDir()
	want, err := Run(context.Background(), opts(whole))
	require.NoError(t, err)
	require.Equal(t, 6, want.Steps) // 3 epochs × 4 batches / 2 per step

	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := opts(out)
	o.OnStep = func(s StepInfo) {
		if s.Step == 3 {
			cancel()
		}
	}
	_, err = Run(ctx, o)
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrInterrupted), "err = %v", err)
	require.True(t, errors.Is(err, context.Canceled))
	var ie *InterruptedError
	require.True(t, errors.As(err, &ie))
	assert.Equal(t, 3, ie.Step)
	assert.Equal(t, filepath.Join(out, "checkpoint-3"), ie.Checkpoint)
	latest, err := LatestCheckpoint(out)
	require.NoError(t, err)
	assert.Equal(t, ie.Checkpoint, latest)
	assert.NoFileExists(t, filepath.Join(out, ia3.WeightsFile), "no final adapter after an interruption")

	got, err := Resume(context.Background(), ie.Checkpoint, opts(out))
	require.NoError(t, err)
	assert.Equal(t, want.Losses, got.Losses)
	assert.Equal(t, want.LRs, got.LRs)
	assert.Equal(t, want.Tokens, got.Tokens)
	assertSameAdapter(t, whole, out, 0)

	// A different run refuses the checkpoint.
	other := opts(t.TempDir())
	other.BatchSize = 2
	_, err = Resume(context.Background(), ie.Checkpoint, other)
	require.ErrorContains(t, err, "batch size is 2 now but was 3")
}

// TestCheckpointIsComplete checks a checkpoint's files and that no
// temporary directory is left behind.
func TestCheckpointIsComplete(t *testing.T) {
	b := openCPU(t)
	out := t.TempDir()
	_, err := Run(context.Background(), Options{ModelDir: modelDir(t, "gpt2"), TrainFile: writeJSONL(t, textLines(4)...),
		OutDir: out, Backend: b, BatchSize: 2, MaxSteps: 2, CheckpointEvery: 1, NoPlot: true})
	require.NoError(t, err)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"checkpoint-1", ia3.ConfigFile, ia3.WeightsFile}, names)
	st, err := readState(filepath.Join(out, "checkpoint-1"))
	require.NoError(t, err)
	assert.Equal(t, 1, st.Step)
	assert.Equal(t, cursor{Epoch: 0, Batch: 1}, st.Data)
	assert.Len(t, st.History.Losses, 1)
	opt, err := modeltest.ReadTensors(filepath.Join(out, "checkpoint-1", OptimizerFile))
	require.NoError(t, err)
	assert.Len(t, keys(opt), 8, "exp_avg and exp_avg_sq of gpt2's 4 vectors")
}
