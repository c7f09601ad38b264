package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// TestLlama1BQuantizedPeakRatio checks, from the byte accounting alone (no
// run, no timing), that a training step of the Llama-1.1B shape on an NF4
// base needs at most 0.35× the bytes of the float32 base, at the batch the
// memory table of docs/quantization.md uses (1 × 128 tokens): the peak is
// the weights as stored (model.WeightBytes, which equals the CPU backend's
// count of allocated bytes: model's TestWeightBytesMatchesAllocation) plus
// the activations a step keeps, the same for every storage
// (Config.EstimateMemory).
func TestLlama1BQuantizedPeakRatio(t *testing.T) {
	cfg, err := NamedShape("llama-1b")
	require.NoError(t, err)
	s, err := model.New(cfg, nil)
	require.NoError(t, err)
	acts := cfg.EstimateMemory(1, 128, true).Activations
	peak := map[string]float64{}
	for _, o := range []model.RandomOptions{{}, {BF16: true}, {Quantize: quant.Q8_0}, {Quantize: quant.NF4}} {
		w, err := s.WeightBytes(o)
		require.NoError(t, err)
		peak[WeightsName(o)] = float64(w) + acts
		t.Logf("%-8s weights %6.3f GiB, peak %6.3f GiB", WeightsName(o), float64(w)/(1<<30), peak[WeightsName(o)]/(1<<30))
	}
	f32 := peak["float32"]
	assert.LessOrEqual(t, peak["nf4"], 0.35*f32, "nf4 / float32 = %.3f", peak["nf4"]/f32)
	assert.Less(t, peak["int8"], peak["bfloat16"])
	assert.Less(t, peak["bfloat16"], f32)
}
