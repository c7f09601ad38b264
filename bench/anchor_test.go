package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anchorJSON is peft_anchor.py's output layout, with the H100 figures of
// shared/DEVICE.md.
const anchorJSON = `{"torch": "2.11.0", "gpu": "NVIDIA H100 80GB HBM3",
 "matmul_fp32_n1024_tf32=False_tflops": 28.9,
 "gpt2_small_fp32_b8_s512": {"params": 124504320, "trainable": 64512, "batch": 8, "seq": 512, "dtype": "torch.float32",
   "train_step_s": 0.0706, "train_tokens_per_s": 58000, "peak_mem_gib": 8.2, "forward_s": 0.0313, "forward_tokens_per_s": 131000}}`

// TestCompare sets a result beside the anchor entry of the same shape,
// batch and length, and refuses shapes and sizes the anchor lacks.
func TestCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.json")
	require.NoError(t, os.WriteFile(path, []byte(anchorJSON), 0o644))
	mem := 4.1
	r := &Result{Shape: "gpt2-small", Batch: 8, Seq: 512, TrainStepS: 0.1412, ForwardS: 0.0313, PeakMemGiB: &mem}
	c, err := Compare(r, path)
	require.NoError(t, err)
	assert.Equal(t, "gpt2_small_fp32_b8_s512", c.Anchor.Key)
	assert.Equal(t, "NVIDIA H100 80GB HBM3", c.GPU)
	assert.Equal(t, int64(64512), c.Anchor.Trainable)
	assert.InDelta(t, 2.0, c.TrainStepRatio, 1e-9)
	assert.InDelta(t, 1.0, c.ForwardRatio, 1e-9)
	require.NotNil(t, c.PeakMemRatio)
	assert.InDelta(t, 0.5, *c.PeakMemRatio, 1e-9)

	r.Seq = 256
	_, err = Compare(r, path)
	assert.ErrorContains(t, err, `no "gpt2_small_fp32_b8_s256"`)
	_, err = Compare(&Result{Shape: "tiny-gpt2"}, path)
	assert.ErrorContains(t, err, "no peft_anchor.py counterpart")
	_, err = Compare(&Result{Shape: "gpt2-small", Batch: 8, Seq: 512}, filepath.Join(t.TempDir(), "none.json"))
	assert.ErrorContains(t, err, "none.json")
}

// cpuAnchorOut is cpu_anchor.sh's output as it ran on the development
// machine (docs/measurements/cpu-step-2026-12-05).
const cpuAnchorOut = `numpy/OpenBLAS sgemm n=512: 257.6 GFLOP/s
numpy/OpenBLAS sgemm n=1024: 300.4 GFLOP/s
{"torch": "1.13.0a0", "threads": 2, "batch": 1, "seq": 128, "train_step_ms": 1237.26, "forward_ms": 495.37, "train_tokens_per_s": 103.45, "forward_tokens_per_s": 258.39}
`

// TestCompareCPUAnchor reads cpu_anchor.sh's lines and refuses what it
// did not time.
func TestCompareCPUAnchor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu_anchor.txt")
	require.NoError(t, os.WriteFile(path, []byte(cpuAnchorOut), 0o644))
	r := &Result{Shape: "gpt2-small", Batch: 1, Seq: 128, TrainStepS: 0.61863, ForwardS: 0.2155}
	c, err := Compare(r, path)
	require.NoError(t, err)
	assert.Equal(t, "torch_cpu_gpt2_small_b1_s128", c.Anchor.Key)
	assert.Equal(t, "CPU, torch 1.13.0a0, 2 threads", c.GPU)
	assert.InDelta(t, 1.23726, c.Anchor.TrainStepS, 1e-9)
	assert.InDelta(t, 0.5, c.TrainStepRatio, 1e-6)
	assert.InDelta(t, 0.2155/0.49537, c.ForwardRatio, 1e-9)
	assert.Nil(t, c.PeakMemRatio)

	_, err = Compare(&Result{Shape: "gpt2-small", Batch: 2, Seq: 128}, path)
	assert.ErrorContains(t, err, "are for batch 1, seq 128, not batch 2, seq 128")
	_, err = Compare(&Result{Shape: "llama-1b", Batch: 1, Seq: 128}, path)
	assert.ErrorContains(t, err, "time the gpt2-small shape, not llama-1b")
	junk := filepath.Join(t.TempDir(), "junk.txt")
	require.NoError(t, os.WriteFile(junk, []byte("numpy/OpenBLAS sgemm n=512: 1 GFLOP/s\n"), 0o644))
	_, err = Compare(&Result{Shape: "gpt2-small", Batch: 1, Seq: 128}, junk)
	assert.ErrorContains(t, err, "junk.txt: neither peft_anchor.py's JSON object nor cpu_anchor.sh's output")
}
