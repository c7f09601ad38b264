package model

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyLlama is TinyLlama-1.1B's shape: 968,884,224 projection weights in
// 22 layers and two 32000 × 2048 embeddings (untied), 1,099,956,224 in all.
const tinyLlama = `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":2048,
	"intermediate_size":5632,"num_hidden_layers":22,"num_attention_heads":32,"num_key_value_heads":4,
	"vocab_size":32000,"max_position_embeddings":2048,"tie_word_embeddings":false}`

// TestPlanMemory checks each part of the plan in bytes on TinyLlama's
// shape for F32, BF16 + NF4 and Q8_0 bases, a generation and a training
// step.
func TestPlanMemory(t *testing.T) {
	c := mustConfig(t, tinyLlama)
	const proj, other = 968884224, 131072000
	fwd512 := 4.0 * (512*(4*2048+5632) + 512*32*512 + 512*32000) // 127,401,984
	for _, tc := range []struct {
		name                        string
		o                           PlanOptions
		weights, acts, kv, optState float64
	}{
		{"f32 forward", PlanOptions{Batch: 1, Seq: 512}, 4399824896, fwd512, 0, 0},
		{"q8_0 forward", PlanOptions{Batch: 1, Seq: 512, ProjBytesPerWeight: BytesPerWeightQ8_0}, 1553727488, fwd512, 0, 0},
		{"bf16 + nf4 forward", PlanOptions{Batch: 1, Seq: 512, WeightBytes: 2, ProjBytesPerWeight: BytesPerWeightNF4},
			proj*(0.5+1.0/64+4.0/16384) + 2*other, fwd512, 0, 0},
		{"generation 4 × 100 + 28", PlanOptions{Batch: 4, Seq: 100, NewTokens: 28}, 4399824896, 27750400,
			4 * 2 * 22 * 4 * 128 * 256, 0},
		{"training 8 × 256", PlanOptions{Batch: 8, Seq: 256, Training: true, Trainable: c.ApproxIA3Params()}, 4399824896,
			6245318656, 0, 16 * 22 * (2*256 + 5632)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := c.PlanMemory(tc.o)
			assert.Equal(t, float64(proj), p.ProjParams)
			assert.Equal(t, float64(other), p.OtherParams)
			assert.InDelta(t, tc.weights, p.Weights, 1)
			assert.InDelta(t, tc.acts, p.Activations, 1)
			assert.InDelta(t, tc.kv, p.KVCache, 1)
			assert.InDelta(t, tc.optState, p.Optimizer, 1)
			assert.InDelta(t, tc.weights+tc.acts+tc.kv+tc.optState, p.Total(), 1)
		})
	}
	nf4 := c.PlanMemory(PlanOptions{Batch: 1, Seq: 1, WeightBytes: 2, ProjBytesPerWeight: BytesPerWeightNF4})
	f32 := c.PlanMemory(PlanOptions{Batch: 1, Seq: 1})
	assert.Less(t, nf4.Weights, 0.35*f32.Weights, "an NF4 base with BF16 embeddings is under 0.35× the F32 weights")
}

// TestPlanMemoryMatchesEstimate checks that EstimateMemory is the plan of
// an F32 run without optimiser state.
func TestPlanMemoryMatchesEstimate(t *testing.T) {
	c := mustConfig(t, tinyLlama)
	for _, training := range []bool{false, true} {
		e := c.EstimateMemory(2, 64, training)
		p := c.PlanMemory(PlanOptions{Batch: 2, Seq: 64, Training: training})
		assert.Equal(t, p.Weights, e.Weights)
		assert.Equal(t, p.Activations, e.Activations)
		assert.Equal(t, p.Params(), e.Params)
	}
}

func TestPlanBreakdown(t *testing.T) {
	c := mustConfig(t, tinyLlama)
	mib := func(n float64) string { return fmt.Sprintf("%.1f MiB", n/(1<<20)) }
	got := c.PlanMemory(PlanOptions{Batch: 4, Seq: 100, NewTokens: 28, Training: false}).Breakdown(mib)
	require.Equal(t, "weights: 4196.0 MiB (9.69e+08 projection weights at 4 bytes, 1.31e+08 others at 4 bytes)\n"+
		"activations: 26.5 MiB\nkv cache: 22.0 MiB (128 positions)\ntotal: 4244.5 MiB\n", got)
	got = c.PlanMemory(PlanOptions{Batch: 1, Seq: 8, Training: true, Trainable: 1000, ProjBytesPerWeight: BytesPerWeightNF4}).Breakdown(mib)
	assert.Contains(t, got, "at 0.5159 bytes")
	assert.Contains(t, got, "optimiser: 0.0 MiB (1e+03 trained parameters: value, gradient, AdamW m and v)")
}
