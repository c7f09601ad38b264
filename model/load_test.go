package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// fixtureCase returns the named case (see modeltest.NamedCase).
func fixtureCase(t *testing.T, name string) modeltest.Case {
	t.Helper()
	return modeltest.NamedCase(t, name)
}

// allTensors reads every tensor of a weights file or checkpoint, in its
// stored dtype.
func allTensors(t *testing.T, r safetensors.Shard) []safetensors.Tensor {
	t.Helper()
	var ts []safetensors.Tensor
	for _, n := range r.Names() {
		info, _ := r.Info(n)
		raw, err := r.Bytes(n)
		require.NoError(t, err)
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
	}
	return ts
}

// rewriteCheckpoint copies a case's base checkpoint into a temporary
// directory with edit applied to its tensor list.
func rewriteCheckpoint(t *testing.T, c modeltest.Case, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src := filepath.Join(c.Dir, "base")
	f, err := safetensors.Open(filepath.Join(src, safetensors.SingleFileName))
	require.NoError(t, err)
	defer f.Close()
	ts := allTensors(t, f)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), edit(ts), nil))
	return dir
}

func TestLoadCheckpointErrors(t *testing.T) {
	c := fixtureCase(t, "gpt2")
	b := testBackend(t)
	tests := []struct {
		name string
		edit func([]safetensors.Tensor) []safetensors.Tensor
		want string
	}{
		{"missing tensor", func(ts []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, x := range ts {
				if x.Name != "transformer.ln_f.bias" {
					out = append(out, x)
				}
			}
			return out
		}, `missing tensor "transformer.ln_f.bias"`},
		{"unexpected tensor", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.F32Tensor("transformer.h.0.extra.weight", []int{2}, []float32{1, 2}))
		}, `unexpected tensor "transformer.h.0.extra.weight"`},
		{"wrong shape", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "transformer.wpe.weight" {
					ts[i].Shape = []int{32, 128}
				}
			}
			return ts
		}, `tensor "transformer.wpe.weight" has shape [32 128], the model expects [64 64]`},
		{"integer weights", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "transformer.ln_f.bias" {
					ts[i].DType = safetensors.I32
				}
			}
			return ts
		}, `has dtype I32`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := rewriteCheckpoint(t, c, tt.edit)
			_, err := Load(context.Background(), dir, b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), filepath.Join(dir, "model.safetensors"))
		})
	}
}

// TestLoadNameVariants loads a checkpoint saved from the bare GPT2Model
// (no "transformer." prefix, as the hub's gpt2 is) with an old attention
// buffer, and checks the logits equal the fixture checkpoint's.
func TestLoadNameVariants(t *testing.T) {
	c := fixtureCase(t, "gpt2")
	b := testBackend(t)
	dir := rewriteCheckpoint(t, c, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			ts[i].Name = strings.TrimPrefix(ts[i].Name, "transformer.")
		}
		return append(ts, safetensors.F32Tensor("h.0.attn.bias", []int{1}, []float32{1}))
	})
	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	m, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer m.Free()
	ref, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	defer ref.Free()
	got, _ := logitsOf(t, m, in)
	want, _ := logitsOf(t, ref, in)
	assert.Equal(t, want, got)
}

func TestLoadConfigError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"xlnet"}`), 0o644))
	_, err := Load(context.Background(), dir, testBackend(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `model_type "xlnet" is not supported (supported: bart, bert, bloom, deberta, deberta-v2, falcon, gemma, gemma2, gemma3_text, gpt2, gpt_bigcode, gpt_neo, gpt_neox, gptj, llama, llama4, llama4_text, mistral, mixtral, mt5, opt, phi, phi3, qwen2, qwen3, roberta, t5)`)
	assert.Contains(t, err.Error(), filepath.Join(dir, "config.json"))
}

// TestPaddingDoesNotLeak changes the token ids under attention_mask == 0
// and checks that the counted logits do not move, for every case.
func TestPaddingDoesNotLeak(t *testing.T) {
	b := testBackend(t)
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			require.Contains(t, in.AttentionMask, int32(0), "fixture batch has padding")
			want, shape := logitsOf(t, m, in)
			other := *in
			other.InputIDs = append([]int32(nil), in.InputIDs...)
			for i, v := range in.AttentionMask {
				if v == 0 {
					other.InputIDs[i] = int32(3 + i%5)
				}
			}
			got, _ := logitsOf(t, m, &other)
			ref := modeltest.Tensor{Shape: shape, Data: want}
			d, _, err := modeltest.CompareLogits(got, shape, ref, in.AttentionMask, m.Config().TaskType)
			require.NoError(t, err)
			assert.Less(t, d, 1e-5)
		})
	}
}

// TestHalfCheckpointsKeepTheirDType converts the llama fixture to F16 and
// BF16, loads it, runs it, and checks that Save writes the same bytes back.
func TestHalfCheckpointsKeepTheirDType(t *testing.T) {
	c := fixtureCase(t, "llama")
	b := testBackend(t)
	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	ref, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	defer ref.Free()
	want, shape := logitsOf(t, ref, in)
	for _, dt := range []string{safetensors.F16, safetensors.BF16} {
		t.Run(dt, func(t *testing.T) {
			dir := rewriteCheckpoint(t, c, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i := range ts {
					v := make([]float32, len(ts[i].Data)/4)
					for k := range v {
						v[k] = math.Float32frombits(binary.LittleEndian.Uint32(ts[i].Data[4*k:]))
					}
					ts[i].DType, ts[i].Data = dt, encodeFloats(dt, v)
				}
				return ts
			})
			m, err := Load(context.Background(), dir, b)
			require.NoError(t, err)
			defer m.Free()
			got, _ := logitsOf(t, m, in)
			// Half-precision weights move the logits by far more than the
			// float32 tolerance; this only checks they stay close.
			d, _, _ := modeltest.CompareLogits(got, shape, modeltest.Tensor{Shape: shape, Data: want}, in.AttentionMask, TaskCausalLM)
			assert.Less(t, d, 0.1)

			out := t.TempDir()
			require.NoError(t, m.Save(out))
			orig, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
			require.NoError(t, err)
			defer orig.Close()
			saved, err := safetensors.Open(filepath.Join(out, safetensors.SingleFileName))
			require.NoError(t, err)
			defer saved.Close()
			require.Equal(t, orig.Names(), saved.Names())
			for _, n := range orig.Names() {
				a, _ := orig.Info(n)
				z, _ := saved.Info(n)
				assert.Equal(t, dt, z.DType, n)
				assert.Equal(t, a.Shape, z.Shape, n)
				ra, _ := orig.Bytes(n)
				rz, _ := saved.Bytes(n)
				assert.Equal(t, ra, rz, n)
			}
		})
	}
}

// TestLoadSharded splits the t5 fixture into two shards with an index and
// checks the logits equal the single-file checkpoint's.
func TestLoadSharded(t *testing.T) {
	c := fixtureCase(t, "t5")
	b := testBackend(t)
	dir := rewriteCheckpoint(t, c, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts })
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	shards := [2][]safetensors.Tensor{}
	weightMap := map[string]string{}
	for i, n := range f.Names() {
		info, _ := f.Info(n)
		raw, err := f.Bytes(n)
		require.NoError(t, err)
		shards[i%2] = append(shards[i%2], safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
		weightMap[n] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i%2]
	}
	require.NoError(t, f.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, safetensors.SingleFileName)))
	for i, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		require.NoError(t, safetensors.Write(filepath.Join(dir, name), shards[i], nil))
	}
	idx, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, safetensors.IndexFileName), idx, 0o644))

	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	m, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer m.Free()
	ref, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	defer ref.Free()
	got, _ := logitsOf(t, m, in)
	want, _ := logitsOf(t, ref, in)
	assert.Equal(t, want, got)

	// Errors name the shard holding the tensor, not model.safetensors.
	second := filepath.Join(dir, "model-00002-of-00002.safetensors")
	bad := shards[1][0]
	bad.Shape = []int{len(bad.Data) / 4}
	bad.DType = safetensors.F32
	for _, tc := range []struct {
		name    string
		tensors []safetensors.Tensor
		want    string
	}{
		{"shape", append([]safetensors.Tensor{bad}, shards[1][1:]...), fmt.Sprintf("%s: tensor %q has shape", second, bad.Name)},
		{"unexpected", append(slices.Clone(shards[1]), safetensors.F32Tensor("bogus", []int{1}, []float32{1})),
			fmt.Sprintf("%s: unexpected tensor %q", second, "bogus")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, safetensors.Write(second, tc.tensors, nil))
			wm := maps.Clone(weightMap)
			for _, x := range tc.tensors {
				wm[x.Name] = filepath.Base(second)
			}
			idx, err := json.Marshal(map[string]any{"weight_map": wm})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, safetensors.IndexFileName), idx, 0o644))
			_, err = Load(context.Background(), dir, b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), safetensors.SingleFileName+":")
		})
	}
}

// TestLoadWithAnotherHead builds other classes from the fixtures'
// checkpoints, as AutoModelFor….from_pretrained does.
func TestLoadWithAnotherHead(t *testing.T) {
	b := testBackend(t)
	bertCase := fixtureCase(t, "bert")
	in, err := InputsFromSafetensors(filepath.Join(bertCase.Dir, "inputs.safetensors"))
	require.NoError(t, err)

	// The bare encoder from the classifier checkpoint: the head is skipped.
	enc, err := LoadWith(context.Background(), filepath.Join(bertCase.Dir, "base"), b, LoadOptions{Architecture: "BertModel"})
	require.NoError(t, err)
	defer enc.Free()
	_, shape := logitsOf(t, enc, in)
	assert.Equal(t, []int{in.Batch, in.Seq, 64}, shape)

	// A five-label head replaces the three-label one; the encoder and
	// pooler keep the checkpoint's weights.
	five, err := LoadWith(context.Background(), filepath.Join(bertCase.Dir, "base"), b, LoadOptions{NumLabels: 5, Seed: 1})
	require.NoError(t, err)
	defer five.Free()
	assert.Equal(t, 5, five.Config().NumLabels)
	_, shape = logitsOf(t, five, in)
	assert.Equal(t, []int{in.Batch, 5}, shape)
	encParams := map[string][]float32{}
	for _, p := range enc.Params() {
		encParams[p.Name], _ = b.ToFloat32(p.T)
	}
	for _, p := range five.Params() {
		v, _ := b.ToFloat32(p.T)
		if want, ok := encParams[strings.TrimPrefix(p.Name, "bert.")]; ok {
			assert.Equal(t, want, v, p.Name)
		}
	}
	dir := t.TempDir()
	require.NoError(t, five.Save(dir))
	cfg, err := LoadConfig(dir)
	require.NoError(t, err)
	assert.Equal(t, 5, cfg.NumLabels)

	// A wrong architecture for the model type is refused.
	_, err = LoadWith(context.Background(), filepath.Join(bertCase.Dir, "base"), b, LoadOptions{Architecture: "GPT2LMHeadModel"})
	assert.ErrorContains(t, err, `architecture "GPT2LMHeadModel" of model_type "bert" is not supported`)
}
