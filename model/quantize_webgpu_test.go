package model

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
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

// TestQuantizedSplitWeightsOnWebGPU quantizes a one-layer Llama whose MLP
// weights ([1024, 256] and [256, 1024]) are over a 128 KiB binding limit
// (webgpu.BindingLimitEnv) in Q8_0 and NF4 alike (about 272 KiB and 137 KiB
// with its tables), so the WebGPU backend holds each in several standalone
// quantized parts (package webgpu's TestQuantSplit counts them), and checks
// its logits and loss against the same model on an adapter without the
// lowered limit. The embedding and tied LM head are split too.
func TestQuantizedSplitWeightsOnWebGPU(t *testing.T) {
	whole := webgputest.Open(t)
	t.Setenv(webgpu.BindingLimitEnv, "128KiB")
	split := webgputest.Open(t)
	cfg := mustConfig(t, `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":256,
		"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":1024,
		"vocab_size":300,"max_position_embeddings":64,"tie_word_embeddings":true,"initializer_range":0.3}`)
	ids := []int32{299, 5, 150, 7, 200, 11, 0, 42, 3, 298, 60, 61, 62, 1, 2, 250}
	in := &Inputs{Batch: 2, Seq: 8, InputIDs: ids, Labels: ids}
	for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
		t.Run(f.String(), func(t *testing.T) {
			var logits [2][]float32
			var losses [2]float32
			for i, b := range []backend.Backend{whole, split} {
				m, err := NewRandom(cfg, b, 7)
				require.NoError(t, err)
				defer m.Free()
				require.NoError(t, m.Quantize(f))
				for _, name := range []string{"model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"} {
					l, ok := m.Module(name)
					require.True(t, ok, name)
					w := l.(*nn.Linear).Weight.T
					require.True(t, w.DType().IsQuantized(), name)
				}
				logits[i], _ = logitsOf(t, m, in)
				g := nn.NewGraph(b, false)
				loss := m.Loss(g, in)
				require.NoError(t, g.Err())
				v, err := b.ToFloat32(loss.T)
				require.NoError(t, err)
				losses[i] = v[0]
				g.Release()
			}
			require.Len(t, logits[1], len(logits[0]))
			var worst, scale float64
			for j := range logits[0] {
				worst = max(worst, math.Abs(float64(logits[1][j]-logits[0][j])))
				scale = max(scale, math.Abs(float64(logits[0][j])))
			}
			t.Logf("%v: split weights' logits within %.3g of the whole weights' (largest logit %.3g)", f, worst, scale)
			assert.LessOrEqual(t, worst, 1e-5*max(scale, 1))
			assert.InDelta(t, losses[0], losses[1], 1e-5)
		})
	}
}
