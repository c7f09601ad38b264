package model

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// ggufDir is testdata/gguf, the files tools/gguf_fixtures.py wrote with
// llama.cpp's gguf-py.
func ggufDir(t *testing.T) string {
	t.Helper()
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	return filepath.Join(root, "testdata", "gguf")
}

// ggufInputs reads the batch the expected logits were computed for (the
// llama fixture's inputs, also stored as inputs/* in expected.safetensors),
// with token ids taken modulo vocab (the random qwen3 and gemma models have
// 96 tokens).
func ggufInputs(t *testing.T, vocab int) *Inputs {
	t.Helper()
	in, err := InputsFromSafetensors(filepath.Join(modeltest.Path(t, "peft/llama"), "inputs.safetensors"))
	require.NoError(t, err)
	for i, id := range in.InputIDs {
		in.InputIDs[i] = id % int32(vocab)
	}
	in.Labels = nil
	return in
}

// TestGGUFLogits loads every model file gguf-py wrote and compares its
// logits with the float64 forward pass of the same model with gguf-py's
// dequantised weights (tools/gguf_fixtures.py, checked there against
// transformers): F32, F16, BF16, Q8_0 and Q4_0 of the llama fixture, Q4_K,
// Q5_K and Q6_K of a 256-wide llama, and F32 mistral, qwen2, qwen3 and
// gemma.
func TestGGUFLogits(t *testing.T) {
	b := testBackend(t)
	dir := ggufDir(t)
	exp, err := modeltest.ReadTensors(filepath.Join(dir, "expected.safetensors"))
	require.NoError(t, err)
	n := 0
	for key, ref := range exp {
		file, ok := strings.CutSuffix(key, "/logits")
		if !ok {
			continue
		}
		n++
		t.Run(file, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(dir, file), b)
			require.NoError(t, err)
			defer m.Free()
			in := ggufInputs(t, m.Config().VocabSize)
			got, shape := logitsOf(t, m, in)
			modeltest.AssertLogits(t, file, got, shape, ref, in.AttentionMask, m.Config().TaskType)
		})
	}
	assert.Equal(t, 12, n, "expected.safetensors holds the logits of every model file")
}

// TestGGUFSplit loads the Q8_0 llama gguf-py split into three files: the
// logits are those of llama-q8_0.gguf's dequantised model.
func TestGGUFSplit(t *testing.T) {
	b := testBackend(t)
	dir := ggufDir(t)
	exp, err := modeltest.ReadTensors(filepath.Join(dir, "expected.safetensors"))
	require.NoError(t, err)
	m, err := Load(context.Background(), filepath.Join(dir, "llama-split-00002-of-00003.gguf"), b)
	require.NoError(t, err)
	defer m.Free()
	in := ggufInputs(t, m.Config().VocabSize)
	got, shape := logitsOf(t, m, in)
	modeltest.AssertLogits(t, "split", got, shape, exp["llama-q8_0.gguf/logits"], in.AttentionMask, m.Config().TaskType)
}

// TestGGUFMatchesCheckpoint loads each F32 GGUF file and the Hugging Face
// checkpoint it was converted from: the configs agree (Gemma 2/3's
// sandwich norms, soft-caps, sliding layers and rotary bases, and Llama 3's
// rope scaling recovered from the rope_freqs tensor included), every
// parameter is equal (the q/k permutation undone; Gemma's norm weights
// within the rounding of w+1−1) and so are the logits.
func TestGGUFMatchesCheckpoint(t *testing.T) {
	b := testBackend(t)
	ctx := context.Background()
	dir := ggufDir(t)
	for _, c := range []struct {
		file, base string
		exact      bool
	}{
		{"llama-f32.gguf", modeltest.Path(t, "peft/llama/base"), true},
		{"mistral-f32.gguf", modeltest.Path(t, "peft/mistral/base"), true},
		{"qwen2-f32.gguf", modeltest.Path(t, "peft/qwen2/base"), true},
		{"qwen3-f32.gguf", filepath.Join(dir, "qwen3"), true},
		{"gemma-f32.gguf", filepath.Join(dir, "gemma"), false},
		{"gemma2-f32.gguf", filepath.Join(dir, "gemma2"), false},
		{"gemma3-f32.gguf", filepath.Join(dir, "gemma3"), false},
		{"llama3-f32.gguf", filepath.Join(dir, "llama3"), true},
	} {
		t.Run(c.file, func(t *testing.T) {
			g, err := Load(ctx, filepath.Join(dir, c.file), b)
			require.NoError(t, err)
			defer g.Free()
			h, err := Load(ctx, c.base, b)
			require.NoError(t, err)
			defer h.Free()
			gc, hc := g.Config(), h.Config()
			for _, f := range []struct {
				name string
				a, b any
			}{{"hidden", gc.Hidden, hc.Hidden}, {"layers", gc.Layers, hc.Layers}, {"heads", gc.Heads, hc.Heads},
				{"kv heads", gc.KVHeads, hc.KVHeads}, {"head dim", gc.HeadDim, hc.HeadDim},
				{"intermediate", gc.Intermediate, hc.Intermediate}, {"vocab", gc.VocabSize, hc.VocabSize},
				{"eps", gc.NormEps, hc.NormEps}, {"rope", gc.Rope, hc.Rope}, {"tied", gc.TieWordEmbeddings, hc.TieWordEmbeddings},
				{"qkv bias", gc.QKVBias, hc.QKVBias}, {"qk norm", gc.QKNorm, hc.QKNorm}, {"act", gc.Act, hc.Act},
				{"max positions", gc.MaxPositions, hc.MaxPositions}, {"layer types", gc.LayerTypes, hc.LayerTypes},
				{"sliding window", gc.SlidingWindow, hc.SlidingWindow}, {"local rope", gc.LocalRope, hc.LocalRope},
				{"query scalar", gc.QueryPreAttnScalar, hc.QueryPreAttnScalar}, {"attn softcap", gc.AttnSoftcap, hc.AttnSoftcap},
				{"final softcap", gc.FinalSoftcap, hc.FinalSoftcap}, {"sandwich", gc.SandwichNorms, hc.SandwichNorms},
				{"gemma norm", gc.GemmaNorm, hc.GemmaNorm}} {
				if f.name == "layer types" && gc.ModelType != hc.ModelType {
					continue // Mistral loads as Llama, whose layers are all full attention
				}
				assert.Equal(t, f.b, f.a, f.name)
			}
			require.Len(t, g.Params(), len(h.Params()))
			for i, p := range h.Params() {
				q := g.Params()[i]
				require.Equal(t, p.Name, q.Name)
				want, err := b.ToFloat32(p.T)
				require.NoError(t, err)
				got, err := b.ToFloat32(q.T)
				require.NoError(t, err)
				if c.exact {
					require.Equal(t, want, got, p.Name)
				} else {
					require.InDeltaSlice(t, want, got, 1e-6, p.Name)
				}
			}
			in := ggufInputs(t, hc.VocabSize)
			want, shape := logitsOf(t, h, in)
			got, gshape := logitsOf(t, g, in)
			require.Equal(t, shape, gshape)
			modeltest.AssertLogits(t, "gguf vs checkpoint", got, gshape,
				modeltest.Tensor{Shape: shape, Data: want}, in.AttentionMask, hc.TaskType)
		})
	}
}

// TestGGUFLoadErrors: a GGUF file that is not a supported model is refused
// with a message naming the file and what is wrong.
func TestGGUFLoadErrors(t *testing.T) {
	b := testBackend(t)
	dir := ggufDir(t)
	_, err := Load(context.Background(), filepath.Join(dir, "vocab-llama.gguf"), b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vocab-llama.gguf")
	assert.Contains(t, err.Error(), "llama.embedding_length is missing")

	missing := filepath.Join(t.TempDir(), "none.gguf")
	_, err = Load(context.Background(), missing, b)
	require.ErrorIs(t, err, os.ErrNotExist)

	cfg, err := LoadConfig(filepath.Join(dir, "qwen2-f32.gguf"))
	require.NoError(t, err)
	assert.Equal(t, "qwen2", cfg.ModelType)
	assert.Equal(t, "Qwen2ForCausalLM", cfg.Architecture)
	assert.True(t, cfg.TieWordEmbeddings)
}
