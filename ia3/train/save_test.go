package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
)

// TestRemoveStaleTmp removes the temporary directories a killed run left
// in its output directory, and nothing that is not one of them.
func TestRemoveStaleTmp(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string, isDir bool) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if isDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			return
		}
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	}
	mk(".checkpoint-123.tmp/adapter_model.safetensors", false)
	mk(".checkpoint-123.tmp/.optimizer.safetensors.tmp-99", false)
	mk(".checkpoint-7.tmp", true)
	mk(".adapter-42.tmp/adapter_config.json", false)
	mk(".checkpoint-5.tmp/notes.txt", false)               // not a file of ours: kept
	mk(".checkpoint-6.tmp/sub/adapter_config.json", false) // a directory inside: kept
	mk(".checkpoint-x.tmp/adapter_config.json", false)     // not MkdirTemp's name: kept
	mk("checkpoint-3/adapter_config.json", false)
	mk(".checkpoint-8.tmp", false) // a file, not a directory: kept
	require.NoError(t, removeStaleTmp(dir))
	var left []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.Equal(t, []string{".checkpoint-5.tmp", ".checkpoint-6.tmp", ".checkpoint-8.tmp", ".checkpoint-x.tmp", "checkpoint-3"}, left)
}

// TestOutDir checks what Run does with an existing output directory: an
// adapter already there is replaced (as PEFT's save_pretrained does, and
// as --resume needs), stale temporaries are removed, and a path that is a
// file, or holds a directory where an adapter file goes, is refused
// before training, naming it.
func TestOutDir(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	data := writeJSONL(t, textLines(4)...)
	opts := func(out string, lr float64) Options {
		return Options{ModelDir: dir, TrainFile: data, OutDir: out, Backend: b, MaxSteps: 2, BatchSize: 4, LR: lr, NoPlot: true}
	}
	out := t.TempDir()
	_, err := Run(context.Background(), opts(out, 0.01))
	require.NoError(t, err)
	first, err := os.ReadFile(filepath.Join(out, ia3.WeightsFile))
	require.NoError(t, err)
	stale := filepath.Join(out, ".checkpoint-77.tmp")
	require.NoError(t, os.Mkdir(stale, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stale, StateFile), []byte("{"), 0o644))

	_, err = Run(context.Background(), opts(out, 0.05))
	require.NoError(t, err, "an existing adapter directory is replaced")
	second, err := os.ReadFile(filepath.Join(out, ia3.WeightsFile))
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	assert.NoDirExists(t, stale)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{ia3.ConfigFile, ia3.WeightsFile}, names, "no temporary left")

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = Run(context.Background(), opts(file, 0.01))
	require.EqualError(t, err, "train: output directory "+file+" exists and is not a directory")

	taken := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(taken, ia3.WeightsFile), 0o755))
	_, err = Run(context.Background(), opts(taken, 0.01))
	require.EqualError(t, err, "train: output directory "+taken+": "+filepath.Join(taken, ia3.WeightsFile)+" is a directory, where the adapter's "+ia3.WeightsFile+" goes")
}

// TestFinalSaveFailureKeepsState makes the final save fail (the weights'
// name taken by a directory once training has started) in a run without
// checkpoints: the trained state is then saved as a checkpoint of the
// last step, the error names it, no config appears without weights, and
// resuming from it saves the adapter an uninterrupted run saves.
func TestFinalSaveFailureKeepsState(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	data := writeJSONL(t, textLines(6)...)
	opts := func(out string) Options {
		return Options{ModelDir: dir, TrainFile: data, OutDir: out, Backend: b, MaxSteps: 3, BatchSize: 2, LR: 0.05, Seed: 3, NoPlot: true}
	}
	whole := t.TempDir()
	_, err := Run(context.Background(), opts(whole))
	require.NoError(t, err)

	out := t.TempDir()
	obstacle := filepath.Join(out, ia3.WeightsFile)
	o := opts(out)
	o.OnStep = func(s StepInfo) {
		if s.Step == 3 {
			require.NoError(t, os.Mkdir(obstacle, 0o755))
		}
	}
	_, err = Run(context.Background(), o)
	require.Error(t, err)
	ckpt := filepath.Join(out, "checkpoint-3")
	assert.Contains(t, err.Error(), "train: save adapter to "+out+": ")
	assert.Contains(t, err.Error(), "the trained state is saved in checkpoint "+ckpt)
	assert.NoFileExists(t, filepath.Join(out, ia3.ConfigFile), "no config without its weights")
	require.NoError(t, os.Remove(obstacle))

	res, err := Resume(context.Background(), ckpt, opts(out))
	require.NoError(t, err)
	assert.Equal(t, 3, res.Steps)
	assertSameAdapter(t, whole, out, 0)
}

// TestReplaceDir moves a directory into place over an existing one and
// leaves nothing else behind.
func TestReplaceDir(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, ".checkpoint-1.tmp"), filepath.Join(dir, "checkpoint-2")
	for _, d := range []struct{ path, content string }{{src, "new"}, {dst, "old"}} {
		require.NoError(t, os.Mkdir(d.path, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d.path, StateFile), []byte(d.content), 0o644))
	}
	require.NoError(t, replaceDir(src, dst))
	got, err := os.ReadFile(filepath.Join(dst, StateFile))
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "checkpoint-2", entries[0].Name())

	require.NoError(t, os.Mkdir(src, 0o755))
	require.NoError(t, replaceDir(src, filepath.Join(dir, "checkpoint-3")), "a new name is a plain rename")
	assert.DirExists(t, filepath.Join(dir, "checkpoint-3"))
}
