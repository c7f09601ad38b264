package gguf

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/safetensors"
)

// stackedExpertsFile is a llama with 3 experts whose layer-0 up
// projections are one stacked Q8_0 tensor [3 experts, 2 rows, 32], each
// block's scale 1 (half 0x3C00) and its 32 quants e·100 + r·10 + i%10 − 64,
// so that every expert's values are known, then a per-expert tensor of the
// older layout.
func stackedExpertsFile() *builder {
	b := llamaHeader(2, 2).kvU32("llama.expert_count", 3).kvU32("llama.expert_used_count", 2)
	b.tensor("blk.0.ffn_up_exps.weight", uint32(Q8_0), 0, 32, 2, 3)
	b.tensor("blk.1.ffn_down.2.weight", uint32(F32), 224, 32, 1)
	b.data(0)
	for e := 0; e < 3; e++ {
		for r := 0; r < 2; r++ {
			binary.Write(&b.Buffer, binary.LittleEndian, uint16(0x3C00))
			for i := 0; i < 32; i++ {
				b.WriteByte(byte(int8(e*40 + r*10 + i%10 - 64)))
			}
		}
	}
	b.data(0)
	binary.Write(&b.Buffer, binary.LittleEndian, make([]float32, 32))
	return b
}

// TestShardStackedExperts: a stacked expert tensor is served as one
// Mixtral weight per expert with the expert's shape, values and dtype
// (its rows read on their own), the per-expert layout maps by name, and
// the config is Mixtral's.
func TestShardStackedExperts(t *testing.T) {
	b := stackedExpertsFile()
	f, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()), "moe.gguf")
	require.NoError(t, err)
	cfg, err := f.HFConfig()
	require.NoError(t, err)
	assert.Equal(t, "mixtral", cfg["model_type"])
	assert.Equal(t, []any{"MixtralForCausalLM"}, cfg["architectures"])
	assert.Equal(t, int64(3), cfg["num_local_experts"])
	assert.Equal(t, int64(2), cfg["num_experts_per_tok"])
	assert.NotContains(t, cfg, "attention_bias")
	s, err := NewShard(f)
	require.NoError(t, err)
	assert.Equal(t, []string{"model.layers.0.block_sparse_moe.experts.0.w3.weight",
		"model.layers.0.block_sparse_moe.experts.1.w3.weight", "model.layers.0.block_sparse_moe.experts.2.w3.weight",
		"model.layers.1.block_sparse_moe.experts.2.w2.weight"}, s.Names())
	for e := 0; e < 3; e++ {
		name := "model.layers.0.block_sparse_moe.experts." + string(rune('0'+e)) + ".w3.weight"
		info, ok := s.Info(name)
		require.True(t, ok)
		assert.Equal(t, safetensors.TensorInfo{DType: safetensors.F32, Shape: []int{2, 32}, Size: 2 * 32 * 4}, info)
		got, err := s.Float32(name)
		require.NoError(t, err)
		want := make([]float32, 64)
		for r := 0; r < 2; r++ {
			for i := 0; i < 32; i++ {
				want[r*32+i] = float32(e*40 + r*10 + i%10 - 64)
			}
		}
		assert.Equal(t, want, got, name)
	}
	info, ok := s.Info("model.layers.1.block_sparse_moe.experts.2.w2.weight")
	require.True(t, ok)
	assert.Equal(t, []int{1, 32}, info.Shape)
}
