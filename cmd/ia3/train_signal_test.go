//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signalAfter is a writer that sends the process a signal once it has
// seen a marker: here, the progress line of the first step.
type signalAfter struct {
	bytes.Buffer
	marker string
	sig    syscall.Signal
	sent   bool
}

func (w *signalAfter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.sent && strings.Contains(w.String(), w.marker) {
		w.sent = true
		_ = syscall.Kill(syscall.Getpid(), w.sig)
	}
	return n, err
}

// TestTrainSIGTERM stops a run with SIGTERM after its first step: like
// Ctrl-C, it saves a checkpoint, exits with 130 naming it, and --resume
// latest finishes the run.
func TestTrainSIGTERM(t *testing.T) {
	dir, data := tinyModelDir(t)
	out := filepath.Join(t.TempDir(), "a")
	args := []string{"train", "--model", dir, "--data", data, "--steps", "40", "--batch-size", "2", "--device", "cpu",
		"--no-plot", "--out", out}
	errOut := &signalAfter{marker: "step 1/40", sig: syscall.SIGTERM}
	code := execute(context.Background(), args, &bytes.Buffer{}, errOut)
	require.Equal(t, exitInterrupted, code, errOut.String())
	assert.Contains(t, errOut.String(), "training interrupted after step")
	assert.Contains(t, errOut.String(), filepath.Join(out, "checkpoint-"))

	r := run(t, append(args, "--resume", "latest")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trained 40 steps")
}

// TestTrainOutIsFile refuses an --out that names a file, naming the flag,
// with exit code 1, before any training.
func TestTrainOutIsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	r := run(t, "train", "--out", file, "--steps", "1", "--device", "cpu")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "ia3: --out "+file+" is a file: give a directory for the adapter (an adapter already in it is replaced)\n", r.stderr)
}
