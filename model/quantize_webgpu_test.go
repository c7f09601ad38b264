package model

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/quant"
)

// TestQuantizedLogitsOnWebGPU loads each fixture's base quantized to Q8_0
// and NF4 on a WebGPU adapter. Its quantized weights must read back exactly
// as the CPU backend's (both dequantise package quant's bytes, bit for
// bit), its logits must equal the CPU backend's logits of the same
// quantized base up to float32 summation order, and stay within the
// quantization tolerance of the float32 base's logits on the same adapter.
func TestQuantizedLogitsOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	cpu := testBackend(t)
	ctx := context.Background()
	for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		t.Run(name, func(t *testing.T) {
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			base := filepath.Join(c.Dir, "base")
			m, err := Load(ctx, base, gpu)
			require.NoError(t, err)
			defer m.Free()
			want, shape := logitsOf(t, m, in)
			task := m.Config().TaskType
			for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
				qg, err := LoadWith(ctx, base, gpu, LoadOptions{Quantize: f})
				require.NoError(t, err)
				qc, err := LoadWith(ctx, base, cpu, LoadOptions{Quantize: f})
				require.NoError(t, err)
				n := 0
				for i, p := range qg.Params() {
					if !p.T.DType().IsQuantized() {
						continue
					}
					n++
					onGPU, err := gpu.ToFloat32(p.T)
					require.NoError(t, err)
					onCPU, err := cpu.ToFloat32(qc.Params()[i].T)
					require.NoError(t, err)
					require.Equal(t, float32Bits(onCPU), float32Bits(onGPU), "%s %v: %s dequantised", name, f, p.Name)
				}
				assert.Positive(t, n, "quantized weights")

				got, gotShape := logitsOf(t, qg, in)
				require.Equal(t, shape, gotShape)
				cpuLogits, _ := logitsOf(t, qc, in)
				d, sc := maskedMaxDiff(got, cpuLogits, shape, in.AttentionMask, task)
				assert.LessOrEqual(t, d, 1e-4*sc, "%s %v: WebGPU vs CPU logits of the quantized base", name, f)
				diff, scale := maskedMaxDiff(got, want, shape, in.AttentionMask, task)
				t.Logf("%s %v on WebGPU: %d weights quantized, max |logits − CPU logits| = %.2g, max |logits − f32 logits| = %.4f (relative %.4f, tolerance %.2f)",
					name, f, n, d, diff, diff/scale, quantTolerance[f])
				assert.LessOrEqual(t, diff, quantTolerance[f]*scale, "%s %v: against the float32 logits", name, f)
				qg.Free()
				qc.Free()
			}
		})
	}
}

// float32Bits returns the bit patterns of v, so that comparisons are exact.
func float32Bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}
