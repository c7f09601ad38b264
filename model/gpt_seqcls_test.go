package model

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/nn"
)

// gptSeqClsCases are sequence classifiers of every GPT-family type: GPT-2,
// Phi, and a causal case of gptCases for each other type (two for OPT and
// Falcon, whose head sits after project_out or comes in several layouts),
// with the LM head replaced by score, three labels and pad_token_id 0.
func gptSeqClsCases() []gptCase {
	classes := map[string]string{}
	for typ, arch := range seqClsArch {
		classes[typ] = arch
	}
	keep := []string{"gpt_neox parallel", "opt project_in/out", "opt post-LN", "bloom 6 heads post-LN residual",
		"falcon multi_query", "falcon new_decoder_architecture", "gpt_bigcode multi_query", "gptj",
		"gpt_neo local window 3"}
	cases := []gptCase{
		{"gpt2", map[string]any{"model_type": "gpt2", "vocab_size": 40, "n_embd": 32, "n_layer": 2, "n_head": 4,
			"n_positions": 32}, []string{"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
			"transformer.ln_f.bias"}, lw("transformer.h.%d.ln_1", "transformer.h.%d.attn.c_attn", "transformer.h.%d.attn.c_proj",
			"transformer.h.%d.ln_2", "transformer.h.%d.mlp.c_fc", "transformer.h.%d.mlp.c_proj")},
		{"phi", map[string]any{"model_type": "phi", "vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2,
			"num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 32},
			[]string{"model.embed_tokens.weight", "model.final_layernorm.weight", "model.final_layernorm.bias"},
			lw("model.layers.%d.self_attn.q_proj", "model.layers.%d.self_attn.k_proj", "model.layers.%d.self_attn.v_proj",
				"model.layers.%d.self_attn.dense", "model.layers.%d.mlp.fc1", "model.layers.%d.mlp.fc2",
				"model.layers.%d.input_layernorm")},
	}
	for _, c := range gptCases() {
		if slices.Contains(keep, c.name) {
			cases = append(cases, c)
		}
	}
	for i, c := range cases {
		raw := map[string]any{}
		for k, v := range c.raw {
			raw[k] = v
		}
		typ := raw["model_type"].(string)
		raw["architectures"], raw["num_labels"], raw["pad_token_id"] = []any{classes[typ]}, 3, 0
		global := []string{"score.weight"}
		for _, n := range c.global {
			if !strings.HasPrefix(n, "lm_head.") && n != "embed_out.weight" {
				global = append(global, n)
			}
		}
		cases[i] = gptCase{name: c.name, raw: raw, global: global, layer: c.layer}
	}
	return cases
}

// TestGPTFamilySeqClsParamNames checks that each classifier has the
// causal model's base parameters under the same names, no LM head, and
// score [num_labels, width] (word_embed_proj_dim for OPT), reported as
// the output layer.
func TestGPTFamilySeqClsParamNames(t *testing.T) {
	for _, c := range gptSeqClsCases() {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.config(t)
			assert.Equal(t, TaskSeqCls, cfg.TaskType)
			assert.Equal(t, 3, cfg.NumLabels)
			m, err := New(cfg, nil)
			require.NoError(t, err)
			var got []string
			for _, p := range m.Params() {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			assert.Equal(t, c.names(), got)
			assert.Equal(t, "score", m.OutputLayer())
			width := cfg.Hidden
			if cfg.ModelType == "opt" {
				width = cfg.WordEmbedDim
			}
			shape, ok := m.ParamShape("score.weight")
			require.True(t, ok)
			assert.Equal(t, []int{3, width}, shape)
		})
	}
}

// TestGPTFamilySeqClsMatchesReference loads each classifier from a random
// checkpoint with transformers' names and compares its logits [B, 3] with
// gptRef's score at each row's last token that is not pad_token_id, for a
// left-padded and a right-padded row, on the CPU and WebGPU.
func TestGPTFamilySeqClsMatchesReference(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range gptSeqClsCases() {
				t.Run(c.name, func(t *testing.T) {
					dir, values := writeRandomCheckpoint(t, c, uint64(i+11))
					m, err := Load(context.Background(), dir, b)
					require.NoError(t, err)
					defer m.Free()
					in := gptInputs()
					got, shape := logitsOf(t, m, in)
					require.Equal(t, []int{in.Batch, 3}, shape)
					ref := &gptRef{raw: c.raw, cfg: m.Config(), w: values}
					for r := 0; r < in.Batch; r++ {
						ids := in.InputIDs[r*in.Seq : (r+1)*in.Seq]
						want := ref.forward(ids, in.AttentionMask[r*in.Seq:(r+1)*in.Seq])
						last := 0
						for p, id := range ids {
							if id != 0 {
								last = p
							}
						}
						require.Equal(t, []int{6, 5}[r], last, "row %d pools its last real token", r)
						scale := 1.0
						for _, x := range want[last] {
							scale = math.Max(scale, math.Abs(x))
						}
						for j := 0; j < 3; j++ {
							assert.InDelta(t, want[last][j], float64(got[r*3+j]), 1e-4*scale, "row %d label %d", r, j)
						}
					}
				})
			}
		})
	}
}

// TestGPTFamilySeqClsPooling checks the pooling rules on a GPT-2 and an
// OPT classifier: a row of pad tokens pools position 0; without a pad
// token a batch of one pools the last position and a larger batch is
// refused as transformers refuses it. OPTConfig's pad_token_id defaults to
// 1, an explicit null leaves none.
func TestGPTFamilySeqClsPooling(t *testing.T) {
	b := testBackend(t)
	build := func(raw map[string]any) *Model {
		js, err := json.Marshal(raw)
		require.NoError(t, err)
		m, err := NewRandom(mustConfig(t, string(js)), b, 3)
		require.NoError(t, err)
		t.Cleanup(m.Free)
		return m
	}
	gpt2 := map[string]any{"model_type": "gpt2", "architectures": []any{"GPT2ForSequenceClassification"}, "vocab_size": 40,
		"n_embd": 16, "n_layer": 1, "n_head": 2, "n_positions": 16}
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

	m := build(with(gpt2, "pad_token_id", 0))
	first, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 1, InputIDs: []int32{0}})
	allPad, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{0, 0, 0}})
	assert.InDeltaSlice(t, first, allPad, 1e-5)

	none := build(gpt2)
	assert.Equal(t, -1, none.Config().PadTokenID)
	one, _ := logitsOf(t, none, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{5, 6, 0}})
	last, _ := logitsOf(t, none, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{5, 6, 0}, AttentionMask: []int32{1, 1, 1}})
	assert.Equal(t, one, last)
	g := nn.NewGraph(b, false)
	defer g.Release()
	none.Forward(g, &Inputs{Batch: 2, Seq: 2, InputIDs: []int32{5, 6, 7, 8}})
	require.Error(t, g.Err())
	assert.Contains(t, g.Err().Error(), "cannot handle batch sizes > 1 if no padding token is defined")

	opt := map[string]any{"model_type": "opt", "architectures": []any{"OPTForSequenceClassification"}, "vocab_size": 40,
		"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "ffn_dim": 24, "max_position_embeddings": 16}
	assert.Equal(t, 1, build(opt).Config().PadTokenID)
	assert.Equal(t, -1, build(with(opt, "pad_token_id", nil)).Config().PadTokenID)
	assert.Equal(t, 4, build(with(opt, "pad_token_id", 4)).Config().PadTokenID)
}

// TestGPTFamilySeqClsConfig checks the class names each type accepts, the
// labels (id2label, num_labels, the default 2), problem_type, and that a
// class of another family is refused by name.
func TestGPTFamilySeqClsConfig(t *testing.T) {
	base := map[string]map[string]any{
		"gpt2":        {"n_embd": 16, "n_layer": 1, "n_head": 2},
		"gpt_neox":    {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8},
		"gptj":        {"n_embd": 16, "n_layer": 1, "n_head": 2, "rotary_dim": 4},
		"gpt_neo":     {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "attention_types": []any{[]any{[]any{"global"}, 1}}},
		"bloom":       {"hidden_size": 16, "n_layer": 1, "n_head": 2},
		"opt":         {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "ffn_dim": 8},
		"falcon":      {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2},
		"gpt_bigcode": {"n_embd": 16, "n_layer": 1, "n_head": 2},
		"phi":         {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8},
	}
	for typ, sizes := range base {
		t.Run(typ, func(t *testing.T) {
			for _, tc := range []struct {
				extra   map[string]any
				labels  int
				problem string
			}{
				{nil, 2, ""},
				{map[string]any{"num_labels": 5, "problem_type": "single_label_classification"}, 5, "single_label_classification"},
				{map[string]any{"id2label": map[string]any{"0": "score"}, "problem_type": "regression"}, 1, "regression"},
			} {
				raw := map[string]any{"model_type": typ, "architectures": []any{seqClsArch[typ]}, "vocab_size": 40}
				for _, m := range []map[string]any{sizes, tc.extra} {
					for k, v := range m {
						raw[k] = v
					}
				}
				js, err := json.Marshal(raw)
				require.NoError(t, err)
				c, err := ParseConfig(js)
				require.NoError(t, err)
				assert.Equal(t, seqClsArch[typ], c.Architecture)
				assert.Equal(t, TaskSeqCls, c.TaskType)
				assert.Equal(t, tc.labels, c.NumLabels)
				assert.Equal(t, tc.problem, c.ProblemType)
			}
			raw := map[string]any{"model_type": typ, "architectures": []any{"LlamaForSequenceClassification"}}
			js, err := json.Marshal(raw)
			require.NoError(t, err)
			_, err = ParseConfig(js)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `architecture "LlamaForSequenceClassification" of model_type "`+typ+`" is not supported`)
		})
	}
	_, err := ParseConfig([]byte(`{"model_type":"gpt2","architectures":["GPT2ForSequenceClassification"],"num_labels":0}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "num_labels must be in [1, 16777216], got 0")
}

// TestGPTFamilySeqClsFromCausalCheckpoint loads causal checkpoints as
// their classifiers, as AutoModelForSequenceClassification does: the base
// weights load (equal to the causal model's), the LM head (lm_head,
// GPT-NeoX's embed_out, GPT-J's biased lm_head) is skipped and score is new.
func TestGPTFamilySeqClsFromCausalCheckpoint(t *testing.T) {
	b := testBackend(t)
	for _, c := range gptCases() {
		if !slices.Contains([]string{"gpt_neox parallel", "gptj", "opt project_in/out"}, c.name) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir, _ := writeRandomCheckpoint(t, c, 3)
			typ := c.raw["model_type"].(string)
			m, err := LoadWith(context.Background(), dir, b, LoadOptions{Architecture: seqClsArch[typ], NumLabels: 4, Seed: 1})
			require.NoError(t, err)
			defer m.Free()
			assert.Equal(t, TaskSeqCls, m.Config().TaskType)
			assert.Equal(t, 4, m.Config().NumLabels)
			causal, err := Load(context.Background(), dir, b)
			require.NoError(t, err)
			defer causal.Free()
			for _, p := range causal.Params() {
				if strings.HasPrefix(p.Name, "lm_head.") || p.Name == "embed_out.weight" {
					_, ok := m.ParamShape(p.Name)
					assert.False(t, ok, p.Name)
					continue
				}
				assert.Equal(t, paramF64(t, causal, p.Name), paramF64(t, m, p.Name), p.Name)
			}
			got, shape := logitsOf(t, m, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{4, 5, 6}})
			assert.Equal(t, []int{1, 4}, shape)
			assert.Len(t, got, 4)
		})
	}
}
