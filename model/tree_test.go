package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

const peftPrefix = "base_model.model."

// TestModuleTreeMatchesFixtures checks every Linear PEFT adapted in any
// matching config against the tree (name, class, in/out, fan_in_fan_out),
// that "all-linear" selects exactly our Linear modules minus the output
// layer, and that Params are exactly the checkpoint's tensors.
func TestModuleTreeMatchesFixtures(t *testing.T) {
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join(c.Dir, "base"))
			require.NoError(t, err)
			m, err := New(cfg, nil)
			require.NoError(t, err)
			mods := map[string]nn.Module{}
			for _, nm := range m.Modules() {
				_, dup := mods[nm.Name]
				require.False(t, dup, "duplicate module %q", nm.Name)
				mods[nm.Name] = nm.Module
			}
			require.Equal(t, "", m.Modules()[0].Name)

			var rows []struct {
				Config map[string]any    `json:"config"`
				Layers []modeltest.Layer `json:"layers"`
			}
			data, err := os.ReadFile(filepath.Join(c.Dir, "matching.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &rows))
			layers := append([]modeltest.Layer{}, c.Meta.LayersDefault...)
			for _, r := range rows {
				layers = append(layers, r.Layers...)
				if r.Config["target_modules"] == "all-linear" {
					var want, got []string
					for _, l := range r.Layers {
						want = append(want, strings.TrimPrefix(l.Name, peftPrefix))
					}
					for _, nm := range m.Modules() {
						out := m.OutputLayer()
						under := out != "" && (nm.Name == out || strings.HasPrefix(nm.Name, out+"."))
						if _, ok := nm.Module.(*nn.Linear); ok && !under {
							got = append(got, nm.Name)
						}
					}
					assert.Equal(t, want, got, "all-linear selection in named_modules order")
				}
			}
			require.NotEmpty(t, layers)
			for _, l := range layers {
				name := strings.TrimPrefix(l.Name, peftPrefix)
				lin, ok := mods[name].(*nn.Linear)
				require.True(t, ok, "module %q is not a Linear in our tree", name)
				assert.Equal(t, l.InFeatures, lin.In, name)
				assert.Equal(t, l.OutFeatures, lin.Out, name)
				assert.Equal(t, l.FanInFanOut, lin.FanInFanOut, name)
			}

			f, err := safetensors.Open(filepath.Join(c.Dir, "base", "model.safetensors"))
			require.NoError(t, err)
			defer f.Close()
			var names []string
			for _, p := range m.Params() {
				names = append(names, p.Name)
				info, ok := f.Info(p.Name)
				require.True(t, ok, "param %s not in checkpoint", p.Name)
				assert.Equal(t, info.Shape, m.shapes[p.Name], p.Name)
			}
			file := f.Names()
			sort.Strings(file)
			sort.Strings(names)
			assert.Equal(t, file, names)
		})
	}
}

func TestGPT2ModuleNames(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"model_type":"gpt2","n_embd":8,"n_head":2,"n_layer":1,"vocab_size":10,"n_positions":4}`))
	require.NoError(t, err)
	m, err := New(cfg, nil)
	require.NoError(t, err)
	var got []string
	for _, nm := range m.Modules() {
		got = append(got, nm.Name+":"+nm.Module.Type())
	}
	assert.Equal(t, []string{
		":GPT2LMHeadModel", "transformer:GPT2Model", "transformer.wte:Embedding", "transformer.wpe:Embedding",
		"transformer.drop:Dropout", "transformer.h:ModuleList", "transformer.h.0:GPT2Block",
		"transformer.h.0.ln_1:LayerNorm", "transformer.h.0.attn:GPT2Attention",
		"transformer.h.0.attn.c_attn:Conv1D", "transformer.h.0.attn.c_proj:Conv1D",
		"transformer.h.0.attn.attn_dropout:Dropout", "transformer.h.0.attn.resid_dropout:Dropout",
		"transformer.h.0.ln_2:LayerNorm", "transformer.h.0.mlp:GPT2MLP", "transformer.h.0.mlp.c_fc:Conv1D",
		"transformer.h.0.mlp.c_proj:Conv1D", "transformer.h.0.mlp.act:NewGELUActivation",
		"transformer.h.0.mlp.dropout:Dropout", "transformer.ln_f:LayerNorm", "lm_head:Linear",
	}, got)
	// The tied head shares wte's parameter and is not listed twice.
	lm := m.Modules()[len(m.Modules())-1].Module.(*nn.Linear)
	assert.Same(t, m.Params()[0], lm.Weight)
	assert.Equal(t, "transformer.wte.weight", lm.Weight.Name)
	shape, ok := m.ParamShape("lm_head.weight")
	assert.True(t, ok)
	assert.Equal(t, []int{10, 8}, shape)
	assert.Equal(t, "lm_head", m.OutputLayer())
	mod, ok := m.Module("transformer.h.0.attn.c_attn")
	require.True(t, ok)
	assert.Equal(t, &nn.Linear{Weight: mod.(*nn.Linear).Weight, Bias: mod.(*nn.Linear).Bias, In: 8, Out: 24, FanInFanOut: true}, mod)
	_, ok = m.Module("transformer.h.1")
	assert.False(t, ok)
}

func TestTreeShapesOtherFamilies(t *testing.T) {
	tests := []struct {
		name, json string
		linears    map[string][2]int // module → in, out
		params     map[string][]int
		absent     []string
	}{
		{"qwen2 tied", `{"model_type":"qwen2","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,
			"num_hidden_layers":1,"intermediate_size":32,"vocab_size":20,"tie_word_embeddings":true}`,
			map[string][2]int{"model.layers.0.self_attn.k_proj": {16, 8}, "model.layers.0.mlp.down_proj": {32, 16}, "lm_head": {16, 20}},
			map[string][]int{"model.layers.0.self_attn.q_proj.bias": {16}, "model.layers.0.self_attn.v_proj.bias": {8}},
			[]string{"model.layers.0.self_attn.o_proj.bias", "lm_head.weight"}},
		{"mistral", `{"model_type":"mistral","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":1,
			"num_hidden_layers":2,"intermediate_size":32,"vocab_size":20,"head_dim":8}`,
			map[string][2]int{"model.layers.1.self_attn.q_proj": {16, 32}, "model.layers.1.self_attn.o_proj": {32, 16}},
			map[string][]int{"lm_head.weight": {20, 16}, "model.layers.1.self_attn.k_proj.weight": {8, 16}},
			[]string{"model.layers.0.self_attn.q_proj.bias"}},
		{"t5 gated untied", `{"model_type":"t5","d_model":16,"d_kv":4,"d_ff":32,"num_layers":1,"num_decoder_layers":2,
			"num_heads":2,"vocab_size":20,"feed_forward_proj":"gated-gelu","tie_word_embeddings":false}`,
			map[string][2]int{"decoder.block.1.layer.2.DenseReluDense.wi_1": {16, 32}, "encoder.block.0.layer.0.SelfAttention.o": {8, 16}},
			map[string][]int{"lm_head.weight": {20, 16}, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": {32, 2}},
			[]string{"decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight", "encoder.embed_tokens.weight"}},
		{"roberta classifier", `{"model_type":"roberta","architectures":["RobertaForSequenceClassification"],"hidden_size":16,
			"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":32,"vocab_size":20,"num_labels":1}`,
			map[string][2]int{"classifier.dense": {16, 16}, "classifier.out_proj": {16, 1}, "roberta.encoder.layer.0.output.dense": {32, 16}},
			map[string][]int{"roberta.embeddings.position_embeddings.weight": {512, 16}, "classifier.out_proj.bias": {1}},
			[]string{"roberta.pooler.dense.weight"}},
		{"bert base", `{"model_type":"bert","architectures":["BertModel"],"hidden_size":16,
			"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":32,"vocab_size":20}`,
			map[string][2]int{"pooler.dense": {16, 16}, "encoder.layer.0.attention.self.query": {16, 16}},
			map[string][]int{"embeddings.token_type_embeddings.weight": {2, 16}},
			[]string{"classifier.weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.json))
			require.NoError(t, err)
			m, err := New(cfg, nil)
			require.NoError(t, err)
			mods := map[string]nn.Module{}
			for _, nm := range m.Modules() {
				mods[nm.Name] = nm.Module
			}
			for name, io := range tt.linears {
				l, ok := mods[name].(*nn.Linear)
				require.True(t, ok, name)
				assert.Equal(t, io, [2]int{l.In, l.Out}, name)
			}
			have := map[string]bool{}
			for _, p := range m.Params() {
				have[p.Name] = true
			}
			for name, shape := range tt.params {
				assert.True(t, have[name], name)
				assert.Equal(t, shape, m.shapes[name], name)
			}
			for _, name := range tt.absent {
				assert.False(t, have[name], name)
			}
		})
	}
}
