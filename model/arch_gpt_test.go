package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// gptCase is a small random model of one GPT-style decoder variant.
type gptCase struct {
	name string
	raw  map[string]any
	// global and layer list the checkpoint's tensor names as transformers'
	// state dict names them (tied weights once), layer ones with %d.
	global, layer []string
}

// lw lists name.weight and name.bias for each name.
func lw(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+".weight", n+".bias")
	}
	return out
}

func gptCases() []gptCase {
	neoxLayer := lw("gpt_neox.layers.%d.input_layernorm", "gpt_neox.layers.%d.post_attention_layernorm",
		"gpt_neox.layers.%d.attention.query_key_value", "gpt_neox.layers.%d.attention.dense",
		"gpt_neox.layers.%d.mlp.dense_h_to_4h", "gpt_neox.layers.%d.mlp.dense_4h_to_h")
	neoxNoBias := lw("gpt_neox.layers.%d.input_layernorm", "gpt_neox.layers.%d.post_attention_layernorm",
		"gpt_neox.layers.%d.mlp.dense_h_to_4h", "gpt_neox.layers.%d.mlp.dense_4h_to_h")
	neoxNoBias = append(neoxNoBias, "gpt_neox.layers.%d.attention.query_key_value.weight", "gpt_neox.layers.%d.attention.dense.weight")
	optLayer := lw("model.decoder.layers.%d.self_attn.k_proj", "model.decoder.layers.%d.self_attn.v_proj",
		"model.decoder.layers.%d.self_attn.q_proj", "model.decoder.layers.%d.self_attn.out_proj",
		"model.decoder.layers.%d.self_attn_layer_norm", "model.decoder.layers.%d.fc1", "model.decoder.layers.%d.fc2",
		"model.decoder.layers.%d.final_layer_norm")
	bloomLayer := lw("transformer.h.%d.input_layernorm", "transformer.h.%d.self_attention.query_key_value",
		"transformer.h.%d.self_attention.dense", "transformer.h.%d.post_attention_layernorm",
		"transformer.h.%d.mlp.dense_h_to_4h", "transformer.h.%d.mlp.dense_4h_to_h")
	falconW := []string{"transformer.h.%d.self_attention.query_key_value.weight", "transformer.h.%d.self_attention.dense.weight",
		"transformer.h.%d.mlp.dense_h_to_4h.weight", "transformer.h.%d.mlp.dense_4h_to_h.weight"}
	bigcodeLayer := lw("transformer.h.%d.ln_1", "transformer.h.%d.attn.c_attn", "transformer.h.%d.attn.c_proj",
		"transformer.h.%d.ln_2", "transformer.h.%d.mlp.c_fc", "transformer.h.%d.mlp.c_proj")
	gptjLayer := append(lw("transformer.h.%d.ln_1", "transformer.h.%d.mlp.fc_in", "transformer.h.%d.mlp.fc_out"),
		"transformer.h.%d.attn.k_proj.weight", "transformer.h.%d.attn.v_proj.weight", "transformer.h.%d.attn.q_proj.weight",
		"transformer.h.%d.attn.out_proj.weight")
	neoLayer := append(lw("transformer.h.%d.ln_1", "transformer.h.%d.attn.attention.out_proj", "transformer.h.%d.ln_2",
		"transformer.h.%d.mlp.c_fc", "transformer.h.%d.mlp.c_proj"),
		"transformer.h.%d.attn.attention.k_proj.weight", "transformer.h.%d.attn.attention.v_proj.weight",
		"transformer.h.%d.attn.attention.q_proj.weight")
	neox := map[string]any{"model_type": "gpt_neox", "vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 32, "rotary_pct": 0.5,
		"initializer_range": 0.3}
	opt := map[string]any{"model_type": "opt", "vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "ffn_dim": 24, "max_position_embeddings": 16, "initializer_range": 0.3}
	bloom := map[string]any{"model_type": "bloom", "vocab_size": 40, "hidden_size": 32, "n_layer": 2, "n_head": 4,
		"initializer_range": 0.3}
	falcon := map[string]any{"model_type": "falcon", "vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "max_position_embeddings": 32, "initializer_range": 0.3}
	bigcode := map[string]any{"model_type": "gpt_bigcode", "vocab_size": 40, "n_embd": 32, "n_layer": 2, "n_head": 4,
		"n_inner": 24, "n_positions": 32, "initializer_range": 0.3}
	gptj := map[string]any{"model_type": "gptj", "vocab_size": 40, "n_embd": 32, "n_layer": 2, "n_head": 4,
		"n_inner": 24, "n_positions": 32, "rotary_dim": 4, "initializer_range": 0.3}
	neo := map[string]any{"model_type": "gpt_neo", "vocab_size": 40, "hidden_size": 32, "num_layers": 2, "num_heads": 4,
		"intermediate_size": 24, "max_position_embeddings": 32, "window_size": 3,
		"attention_types": []any{[]any{[]any{"global", "local"}, 1}}, "initializer_range": 0.3}
	with := func(base map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	return []gptCase{
		{"gpt_neox parallel", neox, []string{"gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.weight",
			"gpt_neox.final_layer_norm.bias", "embed_out.weight"}, neoxLayer},
		{"gpt_neox sequential tied no bias", with(neox, "use_parallel_residual", false, "tie_word_embeddings", true,
			"attention_bias", false, "rotary_pct", 1.0, "hidden_act", "gelu_new"),
			[]string{"gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.weight", "gpt_neox.final_layer_norm.bias"}, neoxNoBias},
		{"opt project_in/out", with(opt, "word_embed_proj_dim", 16),
			[]string{"model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight",
				"model.decoder.project_out.weight", "model.decoder.project_in.weight",
				"model.decoder.final_layer_norm.weight", "model.decoder.final_layer_norm.bias"}, optLayer},
		{"opt post-LN", with(opt, "do_layer_norm_before", false),
			[]string{"model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight"}, optLayer},
		{"bloom 4 heads", bloom, []string{"transformer.word_embeddings.weight", "transformer.word_embeddings_layernorm.weight",
			"transformer.word_embeddings_layernorm.bias", "transformer.ln_f.weight", "transformer.ln_f.bias"}, bloomLayer},
		{"bloom 6 heads post-LN residual", with(bloom, "hidden_size", 48, "n_head", 6,
			"apply_residual_connection_post_layernorm", true),
			[]string{"transformer.word_embeddings.weight", "transformer.word_embeddings_layernorm.weight",
				"transformer.word_embeddings_layernorm.bias", "transformer.ln_f.weight", "transformer.ln_f.bias"}, bloomLayer},
		{"falcon multi_query", falcon, []string{"transformer.word_embeddings.weight", "transformer.ln_f.weight",
			"transformer.ln_f.bias"}, append(lw("transformer.h.%d.input_layernorm"), falconW...)},
		{"falcon new_decoder_architecture", with(falcon, "new_decoder_architecture", true, "num_kv_heads", 2,
			"tie_word_embeddings", false),
			[]string{"transformer.word_embeddings.weight", "transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"},
			append(lw("transformer.h.%d.ln_attn", "transformer.h.%d.ln_mlp"), falconW...)},
		{"falcon sequential biased", with(falcon, "multi_query", false, "parallel_attn", false, "bias", true),
			[]string{"transformer.word_embeddings.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"},
			lw("transformer.h.%d.self_attention.query_key_value", "transformer.h.%d.self_attention.dense",
				"transformer.h.%d.mlp.dense_h_to_4h", "transformer.h.%d.mlp.dense_4h_to_h",
				"transformer.h.%d.input_layernorm", "transformer.h.%d.post_attention_layernorm")},
		{"gpt_bigcode multi_query", bigcode, []string{"transformer.wte.weight", "transformer.wpe.weight",
			"transformer.ln_f.weight", "transformer.ln_f.bias"}, bigcodeLayer},
		{"gpt_bigcode multi-head", with(bigcode, "multi_query", false), []string{"transformer.wte.weight",
			"transformer.wpe.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"}, bigcodeLayer},
		{"gptj", gptj, []string{"transformer.wte.weight", "transformer.ln_f.weight", "transformer.ln_f.bias",
			"lm_head.weight", "lm_head.bias"}, gptjLayer},
		{"gpt_neo local window 3", neo, []string{"transformer.wte.weight", "transformer.wpe.weight",
			"transformer.ln_f.weight", "transformer.ln_f.bias"}, neoLayer},
	}
}

// config parses the case's config.json.
func (c gptCase) config(t *testing.T) *Config {
	t.Helper()
	js, err := json.Marshal(c.raw)
	require.NoError(t, err)
	return mustConfig(t, string(js))
}

// names lists the expected tensor names of a two-layer model, sorted.
func (c gptCase) names() []string {
	out := slices.Clone(c.global)
	for l := 0; l < 2; l++ {
		for _, n := range c.layer {
			out = append(out, fmt.Sprintf(n, l))
		}
	}
	slices.Sort(out)
	return out
}

// TestGPTFamilyParamNames checks that each variant's parameters are named
// as transformers' state dict names them (tied heads once, under the
// embedding) and that every parameter is a real tensor of the model.
func TestGPTFamilyParamNames(t *testing.T) {
	for _, c := range gptCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.config(t), nil)
			require.NoError(t, err)
			var got []string
			for _, p := range m.Params() {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			assert.Equal(t, c.names(), got)
		})
	}
}

// writeRandomCheckpoint writes the case's config.json and a
// model.safetensors of random tensors under the expected names, shaped as
// the model says, and returns the directory and the values.
func writeRandomCheckpoint(t *testing.T, c gptCase, seed uint64) (string, map[string][]float64) {
	t.Helper()
	cfg := c.config(t)
	shape, err := New(cfg, nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 7))
	values := map[string][]float64{}
	var ts []safetensors.Tensor
	for _, name := range c.names() {
		s, ok := shape.ParamShape(name)
		require.True(t, ok, name)
		n := 1
		for _, d := range s {
			n *= d
		}
		v32 := make([]float32, n)
		v := make([]float64, n)
		for i := range v32 {
			x := 0.3 * rng.NormFloat64()
			if strings.Contains(name, "norm") && strings.HasSuffix(name, ".weight") || strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight") {
				x += 1
			}
			v32[i] = float32(x)
			v[i] = float64(v32[i])
		}
		values[name] = v
		ts = append(ts, safetensors.F32Tensor(name, s, v32))
	}
	dir := t.TempDir()
	js, err := json.Marshal(c.raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))
	return dir, values
}

// gptInputs is a batch of two rows: the first left-padded by two tokens,
// the second right-padded by one.
func gptInputs() *Inputs {
	return &Inputs{Batch: 2, Seq: 7,
		InputIDs:      []int32{0, 0, 5, 17, 3, 39, 8, 1, 22, 9, 30, 14, 6, 0},
		AttentionMask: []int32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}}
}

// TestGPTFamilyForwardMatchesReference loads each variant from a random
// checkpoint with transformers' tensor names and compares its logits with
// a float64 transcription of the transformers forward pass, on unpadded
// positions, on the CPU and WebGPU.
func TestGPTFamilyForwardMatchesReference(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range gptCases() {
				t.Run(c.name, func(t *testing.T) {
					dir, values := writeRandomCheckpoint(t, c, uint64(i+1))
					m, err := Load(context.Background(), dir, b)
					require.NoError(t, err)
					defer m.Free()
					in := gptInputs()
					got, shape := logitsOf(t, m, in)
					V := m.Config().VocabSize
					require.Equal(t, []int{in.Batch, in.Seq, V}, shape)
					ref := &gptRef{raw: c.raw, cfg: m.Config(), w: values}
					for r := 0; r < in.Batch; r++ {
						ids := in.InputIDs[r*in.Seq : (r+1)*in.Seq]
						mask := in.AttentionMask[r*in.Seq : (r+1)*in.Seq]
						want := ref.forward(ids, mask)
						for p := 0; p < in.Seq; p++ {
							if mask[p] == 0 {
								continue
							}
							row := got[(r*in.Seq+p)*V : (r*in.Seq+p+1)*V]
							scale := 1.0
							for _, x := range want[p] {
								scale = math.Max(scale, math.Abs(x))
							}
							for j := range row {
								require.InDelta(t, want[p][j], float64(row[j]), 1e-4*scale, "row %d position %d logit %d", r, p, j)
							}
						}
					}
				})
			}
		})
	}
}

// TestGPTFamilyKVCache checks that feeding a padded batch through a KV
// cache (a three-token prompt, then one token at a time) gives the logits
// of the full forward pass, on the CPU and WebGPU; the GPT-Neo case runs
// past its local window.
func TestGPTFamilyKVCache(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range gptCases() {
				t.Run(c.name, func(t *testing.T) {
					m, err := NewRandom(c.config(t), b, uint64(i+3))
					require.NoError(t, err)
					defer m.Free()
					in := gptInputs()
					full, _ := logitsOf(t, m, in)
					cache, err := m.NewCache(in.Batch)
					require.NoError(t, err)
					defer cache.Free()
					V := m.Config().VocabSize
					for start := 0; start < in.Seq; {
						n := 1
						if start == 0 {
							n = 3
						}
						step := &Inputs{Batch: in.Batch, Seq: n}
						for r := 0; r < in.Batch; r++ {
							step.InputIDs = append(step.InputIDs, in.InputIDs[r*in.Seq+start:r*in.Seq+start+n]...)
							step.AttentionMask = append(step.AttentionMask, in.AttentionMask[r*in.Seq+start:r*in.Seq+start+n]...)
						}
						g := nn.NewGraph(b, false)
						out := m.ForwardCached(g, step, cache)
						require.NoError(t, g.Err())
						got, err := b.ToFloat32(out.T)
						require.NoError(t, err)
						g.Release()
						for r := 0; r < in.Batch; r++ {
							for p := 0; p < n; p++ {
								if in.AttentionMask[r*in.Seq+start+p] == 0 {
									continue
								}
								at := (r*in.Seq + start + p) * V
								require.InDeltaSlice(t, full[at:at+V], got[(r*n+p)*V:(r*n+p+1)*V], 1e-4, "row %d token %d", r, start+p)
							}
						}
						start += n
					}
					assert.Equal(t, in.Seq, cache.Len())
				})
			}
		})
	}
}

// TestFalconMultiQueryIsOneGroup checks that multi-query Falcon equals the
// new decoder architecture with one key/value group and one parallel
// layer norm, given the same weights: their fused layouts coincide.
func TestFalconMultiQueryIsOneGroup(t *testing.T) {
	b := testBackend(t)
	c := gptCases()[6]
	require.Equal(t, "falcon multi_query", c.name)
	dir, _ := writeRandomCheckpoint(t, c, 11)
	mq, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer mq.Free()
	raw := map[string]any{}
	for k, v := range c.raw {
		raw[k] = v
	}
	raw["new_decoder_architecture"], raw["num_kv_heads"], raw["num_ln_in_parallel_attn"] = true, 1, 1
	js, err := json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))
	grouped, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer grouped.Free()
	in := gptInputs()
	want, _ := logitsOf(t, mq, in)
	got, _ := logitsOf(t, grouped, in)
	assert.InDeltaSlice(t, want, got, 1e-5)
}

// TestGPTFamilyConfigErrors checks the variants this package refuses.
func TestGPTFamilyConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		js   string
		want string
	}{
		{"falcon alibi", `{"model_type":"falcon","alibi":true}`, "alibi"},
		{"neo layers", `{"model_type":"gpt_neo","num_layers":3,"attention_types":[[["global","local"],1]]}`, "num_layers"},
		{"neo type", `{"model_type":"gpt_neo","num_layers":1,"attention_types":[[["sparse"],1]]}`, "sparse"},
		{"gptj rotary", `{"model_type":"gptj","n_embd":32,"n_head":4,"rotary_dim":9}`, "even"},
		{"heads", `{"model_type":"bloom","hidden_size":30,"n_head":4}`, "multiple"},
		{"falcon kv", `{"model_type":"falcon","multi_query":false,"num_attention_heads":4,"hidden_size":32,"num_kv_heads":2}`, "num_kv_heads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.js))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestGPTFamilyGenerate checks that greedy generation of a left-padded
// batch through the KV cache gives each row the tokens that full forward
// passes of that row alone give, on the CPU. GPT-Neo's local window counts
// cache slots, padding included (as in transformers), so its prompts share
// one length.
func TestGPTFamilyGenerate(t *testing.T) {
	b := testBackend(t)
	for i, c := range gptCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewRandom(c.config(t), b, uint64(i+40))
			require.NoError(t, err)
			defer m.Free()
			prompts := [][]int32{{17, 4, 9}, {5, 6, 7, 8, 9, 10}, {20}}
			if m.Config().ModelType == "gpt_neo" {
				prompts = [][]int32{{17, 4, 9}, {5, 6, 7}}
			}
			const n = 5
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			for r, p := range prompts {
				assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
			}
		})
	}
}
