package model

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/nn"
)

// bigVocab is a one-layer Llama with a 256k vocabulary and tied
// embeddings: its F32 embedding [262144, 160] takes 160 MiB, over
// lavapipe's 128 MiB maxStorageBufferBindingSize, so the WebGPU backend
// holds it in two buffers for the embedding lookup and the LM head.
const bigVocab = `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":160,
	"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":160,
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

	prompt := []int32{262143, 131072, 17}
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

	opts := GenerateOptions{MaxNewTokens: 2, EOS: []int32{}}
	gen, err := onGPU.Generate(context.Background(), [][]int32{prompt}, opts)
	require.NoError(t, err)
	ref, err := onCPU.Generate(context.Background(), [][]int32{prompt}, opts)
	require.NoError(t, err)
	assert.Equal(t, ref, gen)
}

// TestSplitHeadTrainingOnWebGPU lowers the binding limit to 64 KiB
// (webgpu.BindingLimitEnv) so that a small Llama's embedding, tied LM head
// and logits are all held in several buffers, and checks a training step's
// loss and the gradient that reaches the MLP's down projection through
// the head against the CPU backend.
func TestSplitHeadTrainingOnWebGPU(t *testing.T) {
	t.Setenv(webgpu.BindingLimitEnv, "64KiB")
	gpu := webgputest.Open(t)
	cfg := mustConfig(t, `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":32,
		"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":64,
		"vocab_size":3000,"max_position_embeddings":64,"tie_word_embeddings":true,"initializer_range":0.3}`)
	ids := []int32{2999, 5, 1500, 7, 2000, 11, 0, 42, 3, 2998, 600, 601, 602, 1, 2, 2500}
	in := &Inputs{Batch: 2, Seq: 8, InputIDs: ids, Labels: ids}
	var losses [2]float64
	var grads [2][]float32
	for i, b := range []backend.Backend{gpu, testBackend(t)} {
		m, err := NewRandom(cfg, b, 5)
		require.NoError(t, err)
		t.Cleanup(m.Free)
		down, ok := m.Module("model.layers.0.mlp.down_proj")
		require.True(t, ok)
		w := down.(*nn.Linear).Weight
		w.Trainable = true
		g := nn.NewGraph(b, true)
		loss := m.Loss(g, in)
		require.NoError(t, g.Err())
		require.NoError(t, g.Backward(loss))
		v, err := b.ToFloat32(loss.T)
		require.NoError(t, err)
		losses[i] = float64(v[0])
		grads[i], err = b.ToFloat32(g.ParamGrad(w))
		require.NoError(t, err)
		g.Release()
	}
	assert.InDelta(t, losses[1], losses[0], 1e-4)
	require.Len(t, grads[0], 32*64)
	var norm float64
	for _, x := range grads[1] {
		norm += float64(x) * float64(x)
	}
	require.Greater(t, norm, 1e-8, "a gradient reaches the layer")
	for j := range grads[1] {
		require.InDelta(t, grads[1][j], grads[0][j], 1e-4, "down_proj weight gradient %d", j)
	}
}
