package model

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/modeltest"
)

// TestGGUFLogitsOnWebGPU loads gguf-py files on a WebGPU adapter (F16
// weights stay half precision there) and compares the logits with the
// float64 forward of the gguf-py-dequantised weights, as TestGGUFLogits
// does on the CPU.
func TestGGUFLogitsOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	dir := ggufDir(t)
	exp, err := modeltest.ReadTensors(filepath.Join(dir, "expected.safetensors"))
	require.NoError(t, err)
	for _, file := range []string{"llama-f16.gguf", "llama-bf16.gguf", "llama-q4_0.gguf", "kquant-q6_k.gguf", "qwen2-f32.gguf"} {
		t.Run(file, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(dir, file), gpu)
			require.NoError(t, err)
			t.Cleanup(m.Free)
			in := ggufInputs(t, m.Config().VocabSize)
			got, shape := logitsOf(t, m, in)
			modeltest.AssertLogits(t, file, got, shape, exp[file+"/logits"], in.AttentionMask, m.Config().TaskType)
		})
	}
}
