//go:build unix

package main

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/safetensors"
)

// TestNonRegularModelFiles checks that a FIFO given where a model file is
// read is refused by name instead of blocking forever.
func TestNonRegularModelFiles(t *testing.T) {
	dir := modelDirWith(t, tinyGPT2)
	weights := filepath.Join(dir, safetensors.SingleFileName)
	require.NoError(t, syscall.Mkfifo(weights, 0o644))
	inputs := filepath.Join(t.TempDir(), "inputs.safetensors")
	require.NoError(t, safetensors.Write(inputs, []safetensors.Tensor{safetensors.I64Tensor("input_ids", []int{1, 2}, []int64{1, 2})}, nil))
	fifoInputs := filepath.Join(t.TempDir(), "fifo.safetensors")
	require.NoError(t, syscall.Mkfifo(fifoInputs, 0o644))
	fifoJSON := filepath.Join(t.TempDir(), "fifo.json")
	require.NoError(t, syscall.Mkfifo(fifoJSON, 0o644))
	fifoConfig := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(fifoConfig, "config.json"), 0o644))
	fifoTokenizer := modelDirWith(t, tinyGPT2)
	require.NoError(t, syscall.Mkfifo(filepath.Join(fifoTokenizer, "tokenizer.json"), 0o644))
	out := filepath.Join(t.TempDir(), "logits.safetensors")
	checkHostile(t, []hostile{
		{"weights", []string{"forward", "--model", dir, "--device", "cpu", "--inputs", inputs, "--out", out},
			[]string{weights + " is a named pipe (FIFO), not a regular file"}},
		{"inputs", []string{"forward", "--model", dir, "--device", "cpu", "--inputs", fifoInputs, "--out", out},
			[]string{"inputs file " + fifoInputs + " is a named pipe"}},
		{"bench config", []string{"bench", "--config", fifoJSON, "--device", "cpu"}, []string{fifoJSON + " is a named pipe (FIFO), not a regular file"}},
		{"tokenizer", []string{"generate", "--model", fifoTokenizer, "--device", "cpu", "--prompt", "hi"},
			[]string{"tokenizer " + filepath.Join(fifoTokenizer, "tokenizer.json") + " is a named pipe"}},
		{"config", []string{"inspect", "--model", fifoConfig}, []string{filepath.Join(fifoConfig, "config.json") + " is a named pipe"}},
	})
}
