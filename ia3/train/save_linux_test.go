//go:build linux

package train

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
)

// fullDiskChild is set in the environment of the child process that runs
// TestFinalSaveOnFullDisk's body.
const fullDiskChild = "IA3_TRAIN_FULL_DISK_CHILD"

// TestFinalSaveOnFullDisk fills the "disk" as the final save starts (a
// file size limit, which makes writes fail as ENOSPC does; Go ignores
// SIGXFSZ): the adapter already in the output directory stays whole,
// no weights appear without their config, no temporary is left, the
// error names the last checkpoint, and the run resumes from it.
//
// The limit is process-wide: it would also fail the writes of go test's
// own log of opened files (testlog.txt) whenever they fall in the window,
// failing the package. So the test runs itself in a child process, which
// go test gives no such log.
func TestFinalSaveOnFullDisk(t *testing.T) {
	if os.Getenv(fullDiskChild) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFinalSaveOnFullDisk$", "-test.count=1")
		cmd.Env = append(os.Environ(), fullDiskChild+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child test:\n%s", out)
		require.Contains(t, string(out), "PASS")
		return
	}
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	data := writeJSONL(t, textLines(4)...)
	opts := func(out string) Options {
		return Options{ModelDir: dir, TrainFile: data, OutDir: out, Backend: b, MaxSteps: 3, BatchSize: 2, LR: 0.05,
			CheckpointEvery: 1, NoPlot: true}
	}
	out := t.TempDir()
	_, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: data, OutDir: out, Backend: b, MaxSteps: 1, BatchSize: 2, NoPlot: true})
	require.NoError(t, err)
	before := map[string][]byte{}
	for _, f := range []string{ia3.ConfigFile, ia3.WeightsFile} {
		before[f], err = os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
	}

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	restore := func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) }
	t.Cleanup(restore)
	o := opts(out)
	o.OnStep = func(s StepInfo) {
		if s.Step == 3 {
			lim := syscall.Rlimit{Cur: 2048, Max: old.Max}
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
		}
	}
	_, err = Run(context.Background(), o)
	restore()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "train: save adapter to "+out+": ")
	assert.Contains(t, err.Error(), "file too large")
	assert.Contains(t, err.Error(), "last checkpoint: "+filepath.Join(out, "checkpoint-2"))
	for f, want := range before {
		got, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Equal(t, want, got, "%s is the previous adapter's", f)
	}
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{ia3.ConfigFile, ia3.WeightsFile, "checkpoint-1", "checkpoint-2"}, names, "no temporary left")

	res, err := Resume(context.Background(), filepath.Join(out, "checkpoint-2"), opts(out))
	require.NoError(t, err)
	assert.Equal(t, 3, res.Steps)
	assert.FileExists(t, filepath.Join(out, ia3.ConfigFile))
}
