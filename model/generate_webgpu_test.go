package model

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/quant"
)

// TestGenerateOnWebGPU runs cached, left-padded greedy generation on a
// WebGPU adapter: every row must equal repeated full forward passes of
// that row alone on the same device, and the tokens the CPU backend
// generates.
func TestGenerateOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	prompts := [][]int32{{17, 42, 99}, {5, 6, 7, 8, 9, 10}}
	const n = 5
	for _, c := range generativeCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), gpu)
			require.NoError(t, err)
			t.Cleanup(m.Free)
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			onCPU, err := loadCase(t, c).Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			for r, p := range prompts {
				assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d against full forwards", r)
				assert.Equal(t, onCPU[r], got[r], "row %d against the CPU backend", r)
			}
		})
	}
}

// TestQuantizedLogitsOnWebGPU loads each fixture quantized to Q8_0 and NF4
// on a WebGPU adapter whose backend takes quantized weights: the logits
// equal the CPU backend's within the float32 parity tolerance, as both
// decode the same codes (package quant quantizes on the host). Until the
// WebGPU backend reports QuantizedWeights the test is skipped.
func TestQuantizedLogitsOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	if !gpu.Info().QuantizedWeights {
		t.Skipf("%s does not report QuantizedWeights", gpu.Info().Spec)
	}
	cpu := testBackend(t)
	ctx := context.Background()
	for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
		require.NoError(t, err)
		for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				var logits [2][]float32
				var shape []int
				for i, b := range []backend.Backend{cpu, gpu} {
					m, err := LoadWith(ctx, filepath.Join(c.Dir, "base"), b, LoadOptions{Quantize: f})
					require.NoError(t, err)
					logits[i], shape = logitsOf(t, m, in)
					m.Free()
				}
				d, scale := maskedMaxDiff(logits[1], logits[0], shape, in.AttentionMask, c.Meta.TaskType)
				assert.LessOrEqual(t, d, 1e-4*scale, "%s %v: WebGPU against the CPU", name, f)
			})
		}
	}
}
