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

// TestQuantizedWeightsOnWebGPU loads each fixture's base quantized to Q8_0
// and NF4 on a WebGPU adapter. Its quantized weights must read back exactly
// as the CPU backend's (both dequantise package quant's bytes, bit for
// bit), and its logits stay within the quantization tolerance of the
// float32 base's logits on the same adapter (TestQuantizedLogitsOnWebGPU
// compares them with the CPU's).
func TestQuantizedWeightsOnWebGPU(t *testing.T) {
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
				qc.Free()

				got, gotShape := logitsOf(t, qg, in)
				require.Equal(t, shape, gotShape)
				diff, scale := maskedMaxDiff(got, want, shape, in.AttentionMask, m.Config().TaskType)
				t.Logf("%s %v on WebGPU: %d weights quantized, max |logits − f32 logits| = %.4f (relative %.4f, tolerance %.2f)",
					name, f, n, diff, diff/scale, quantTolerance[f])
				assert.LessOrEqual(t, diff, quantTolerance[f]*scale, "%s %v: against the float32 logits", name, f)
				qg.Free()
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
