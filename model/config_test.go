package model

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

func TestLoadConfigFixtures(t *testing.T) {
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join(c.Dir, "base"))
			require.NoError(t, err)
			assert.Equal(t, c.Meta.TaskType, cfg.TaskType)
			assert.NotEmpty(t, cfg.Raw)
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c *Config)
	}{
		{"gpt2 defaults", `{"model_type":"gpt2","n_embd":64,"n_head":4,"n_layer":2,"vocab_size":256,"n_inner":null}`,
			func(t *testing.T, c *Config) {
				assert.Equal(t, "GPT2LMHeadModel", c.Architecture)
				assert.Equal(t, TaskCausalLM, c.TaskType)
				assert.Equal(t, 256, c.Intermediate)
				assert.Equal(t, 16, c.HeadDim)
				assert.Equal(t, "gelu_new", c.Act)
				assert.True(t, c.TieWordEmbeddings)
				assert.Equal(t, -1, c.PadTokenID)
			}},
		{"llama rope_theta v4", `{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":1,
			"intermediate_size":128,"vocab_size":10,"rope_theta":500000,"rope_scaling":{"rope_type":"llama3","factor":8,
			"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192}}`,
			func(t *testing.T, c *Config) {
				assert.Equal(t, 500000.0, c.Rope.Theta)
				assert.Equal(t, "llama3", c.Rope.Type)
				assert.Equal(t, 8.0, c.Rope.Factor)
				assert.Equal(t, 4, c.KVHeads)
				assert.Equal(t, 16, c.HeadDim)
			}},
		{"llama rope_parameters v5", `{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_key_value_heads":2,
			"num_hidden_layers":1,"intermediate_size":128,"vocab_size":10,"head_dim":32,"attention_bias":true,
			"rope_parameters":{"rope_theta":1000.0,"rope_type":"linear","factor":2.0}}`,
			func(t *testing.T, c *Config) {
				assert.Equal(t, 1000.0, c.Rope.Theta)
				assert.Equal(t, "linear", c.Rope.Type)
				assert.Equal(t, 2.0, c.Rope.Factor)
				assert.Equal(t, 2, c.KVHeads)
				assert.Equal(t, 32, c.HeadDim)
				assert.True(t, c.AttentionBias)
			}},
		{"qwen2 biases", `{"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"hidden_size":64,"num_attention_heads":4,
			"num_hidden_layers":1,"intermediate_size":128,"vocab_size":10,"tie_word_embeddings":true}`,
			func(t *testing.T, c *Config) {
				assert.True(t, c.QKVBias)
				assert.False(t, c.AttentionBias)
				assert.True(t, c.TieWordEmbeddings)
			}},
		{"t5 gated-gelu", `{"model_type":"t5","d_model":64,"d_kv":16,"d_ff":128,"num_layers":2,"num_heads":4,
			"vocab_size":100,"feed_forward_proj":"gated-gelu","tie_word_embeddings":false}`,
			func(t *testing.T, c *Config) {
				assert.True(t, c.GatedFF)
				assert.Equal(t, "gelu_new", c.Act)
				assert.Equal(t, 2, c.DecoderLayers)
				assert.False(t, c.ScaleDecoderOutputs)
				assert.Equal(t, 0, c.DecoderStartTokenID)
				assert.Equal(t, TaskSeq2SeqLM, c.TaskType)
			}},
		{"bert labels", `{"model_type":"bert","architectures":["BertForSequenceClassification"],"hidden_size":64,
			"num_attention_heads":4,"num_hidden_layers":1,"intermediate_size":128,"vocab_size":10,
			"id2label":{"0":"a","1":"b","2":"c","3":"d"}}`,
			func(t *testing.T, c *Config) {
				assert.Equal(t, 4, c.NumLabels)
				assert.Equal(t, TaskSeqCls, c.TaskType)
			}},
		{"roberta base encoder", `{"model_type":"roberta","architectures":["RobertaModel"],"hidden_size":64,
			"num_attention_heads":4,"num_hidden_layers":1,"intermediate_size":128,"vocab_size":10}`,
			func(t *testing.T, c *Config) {
				assert.Equal(t, TaskFeatureExtraction, c.TaskType)
				assert.Equal(t, 1, c.PadTokenID)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown type", `{"model_type":"xlnet"}`, `model_type "xlnet" is not supported (supported: bart, bert, bloom, deberta, deberta-v2, falcon, gemma, gemma2, gemma3_text, gpt2, gpt_bigcode, gpt_neo, gpt_neox, gptj, llama, llama4, llama4_text, mistral, mixtral, mt5, opt, phi, phi3, qwen2, qwen3, roberta, t5)`},
		{"missing type", `{"n_embd":3}`, `field "model_type" is missing`},
		{"wrong type", `{"model_type":"gpt2","n_embd":"big"}`, `config.json: field "n_embd": want an integer, got big`},
		{"fraction", `{"model_type":"gpt2","n_layer":1.5}`, `field "n_layer": want an integer`},
		{"bad arch", `{"model_type":"gpt2","architectures":["GPT2ForTokenClassification"]}`, `architecture "GPT2ForTokenClassification"`},
		{"bad rope", `{"model_type":"llama","rope_parameters":{"rope_type":"yarn","rope_theta":1}}`, `field "rope_parameters.rope_type": rope type "yarn" is not supported`},
		{"bad ff", `{"model_type":"t5","feed_forward_proj":"very-gated-gelu"}`, `field "feed_forward_proj"`},
		{"gqa", `{"model_type":"llama","num_attention_heads":4,"num_key_value_heads":3}`, `num_key_value_heads 3 must divide`},
		{"not json", `[1,2]`, `not a JSON object`},
		{"negative positions", `{"model_type":"gpt2","n_positions":-5}`, `config.json: n_positions must be in [1, 16777216], got -5`},
		{"huge vocab", `{"model_type":"gpt2","vocab_size":1e12}`, `vocab_size must be in [1, 16777216], got 1000000000000`},
		{"zero labels", `{"model_type":"bert","num_labels":0}`, `num_labels must be in [1, 16777216], got 0`},
		{"negative buckets", `{"model_type":"t5","relative_attention_num_buckets":-1}`, `relative_attention_num_buckets must be in`},
		{"zero type vocab", `{"model_type":"roberta","type_vocab_size":0}`, `type_vocab_size must be in`},
		{"llama3 positions", `{"model_type":"llama","rope_scaling":{"rope_type":"llama3","original_max_position_embeddings":-1}}`, `rope original_max_position_embeddings must be in`},
		{"negative eps", `{"model_type":"llama","rms_norm_eps":-1}`, `norm epsilon must be a finite number ≥ 0, got -1`},
		{"too many params", `{"model_type":"llama","hidden_size":4194304,"intermediate_size":16777216,"num_attention_heads":32768}`,
			`parameters, over the limit of 1.1e+12 (1099511627776)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestConfigErrorsDeterministic checks that a config with several bad
// sizes reports the same one every time (they were checked in map order).
func TestConfigErrorsDeterministic(t *testing.T) {
	js := []byte(`{"model_type":"gpt2","vocab_size":0,"n_embd":0,"n_layer":0,"n_head":0,"n_positions":0,"n_inner":0}`)
	_, first := ParseConfig(js)
	require.Error(t, first)
	assert.EqualError(t, first, "config.json: vocab_size must be in [1, 16777216], got 0")
	for range 50 {
		_, err := ParseConfig(js)
		require.EqualError(t, err, first.Error())
	}
}

// TestEstimateMemory checks the lower bound on GPT-2 small's shape: 124M
// parameters (the head is tied), the activations a training step keeps,
// and no overflow at an absurd batch.
func TestEstimateMemory(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"gpt2"}`))
	require.NoError(t, err)
	e := c.EstimateMemory(8, 512, true)
	assert.InDelta(t, 124e6, e.Params, 1e6, "GPT-2 small without biases and norms")
	assert.Equal(t, 4*e.Params, e.Weights)
	// 12 layers × (4096 tokens × (6·768 + 2·3072) + 8·12·512·512 scores) +
	// 2 × 4096 × 50257 logits, 4 bytes each.
	want := 4 * (12*(4096*(6*768+2*3072)+8*12*512*512) + 2*4096*50257.0)
	assert.InDelta(t, want, e.Activations, 1)
	fwd := c.EstimateMemory(8, 512, false)
	assert.Less(t, fwd.Activations, e.Activations)
	huge := c.EstimateMemory(100_000_000, 512, false)
	assert.Greater(t, huge.Total(), 1e15, "no overflow: about 10 PB of logits")
}

// TestWithHugeLabels checks that a new classification head is sized
// within MaxDimension before its label maps are built.
func TestWithHugeLabels(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"bert","architectures":["BertForSequenceClassification"]}`))
	require.NoError(t, err)
	_, err = c.with("", 1<<40)
	require.EqualError(t, err, "num_labels must be in [1, 16777216], got 1099511627776")
	d, err := c.with("", 5)
	require.NoError(t, err)
	assert.Equal(t, 5, d.NumLabels)
}
