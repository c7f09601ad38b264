package model

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// bigVocab is a one-layer Llama with a 256k vocabulary and tied
// embeddings: its F32 embedding [262144, 256] takes 256 MiB, twice
// lavapipe's 128 MiB maxStorageBufferBindingSize, so the WebGPU backend
// holds it in several buffers for the embedding lookup and the LM head.
const bigVocab = `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":256,
	"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":256,
	"vocab_size":262144,"max_position_embeddings":64,"rms_norm_eps":1e-5,"tie_word_embeddings":true,
	"initializer_range":0.5}`

// TestBigVocabularyOnWebGPU runs the forward pass and greedy generation of
// the 256k-vocabulary model on a WebGPU adapter: logits match the CPU
// backend's and the generated tokens are the CPU's.
func TestBigVocabularyOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	cfg := mustConfig(t, bigVocab)
	onGPU, err := NewRandom(cfg, gpu, 11)
	require.NoError(t, err)
	t.Cleanup(onGPU.Free)
	onCPU, err := NewRandom(cfg, testBackend(t), 11)
	require.NoError(t, err)
	t.Cleanup(onCPU.Free)

	prompt := []int32{262143, 5, 131072, 200000, 17}
	in := &Inputs{Batch: 1, Seq: len(prompt), InputIDs: prompt}
	got, shape := logitsOf(t, onGPU, in)
	want, _ := logitsOf(t, onCPU, in)
	require.Equal(t, []int{1, len(prompt), cfg.VocabSize}, shape)
	var worst, scale float64
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	assert.Less(t, worst, 1e-4*max(scale, 1), "largest logit difference (largest logit %g)", scale)

	opts := GenerateOptions{MaxNewTokens: 3, EOS: []int32{}}
	gen, err := onGPU.Generate(context.Background(), [][]int32{prompt}, opts)
	require.NoError(t, err)
	ref, err := onCPU.Generate(context.Background(), [][]int32{prompt}, opts)
	require.NoError(t, err)
	assert.Equal(t, ref, gen)
}
