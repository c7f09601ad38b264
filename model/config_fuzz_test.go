package model

import (
	"testing"

	"github.com/ia3/ia3/model/modeltest"
)

// FuzzParseConfig parses arbitrary bytes as config.json: it must never
// panic, and a config it accepts must parse the same way again from its
// own raw map.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 256, "n_positions": 64, "n_embd": 8, "n_layer": 1, "n_head": 2}`,
		`{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 256, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}`,
		`{"model_type": "t5", "vocab_size": 128, "d_model": 8, "d_kv": 4, "d_ff": 16, "num_layers": 1, "num_heads": 2, "feed_forward_proj": "gated-gelu"}`,
		`{"model_type": "bert", "architectures": ["BertForSequenceClassification"], "vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "id2label": {"0": "a", "1": "b"}}`,
		`{"model_type": "gemma2", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 8, "sliding_window": 3, "attn_logit_softcapping": 2.0}`,
		`{"model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4, "head_dim": 8, "sliding_window_pattern": 2, "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0}, "sliding_attention": {"rope_type": "default"}}}`,
		`{"model_type": "qwen2", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "use_sliding_window": true, "sliding_window": 3, "max_window_layers": 1, "layer_types": ["full_attention", "sliding_attention"]}`,
		`{"model_type": "phi3", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "partial_rotary_factor": 0.5}`,
		`{"model_type": "gpt_neox", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "rotary_pct": 0.5}`,
		`{"model_type": "opt", "vocab_size": 64, "hidden_size": 16, "ffn_dim": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "word_embed_proj_dim": 8}`,
		`{"model_type": "gptj", "vocab_size": 64, "n_embd": 16, "n_layer": 1, "n_head": 2, "rotary_dim": 4}`,
		`{"model_type": "gpt_neo", "vocab_size": 64, "hidden_size": 16, "num_layers": 2, "num_heads": 2, "window_size": 3, "attention_types": [[["global", "local"], 1]]}`,
		`{"model_type": "bloom", "vocab_size": 64, "hidden_size": 24, "n_layer": 1, "n_head": 6}`,
		`{"model_type": "falcon", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 4, "new_decoder_architecture": true, "num_kv_heads": 2}`,
		`{"model_type": "deberta-v2", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "relative_attention": true, "position_buckets": 8, "max_relative_positions": 16, "pos_att_type": "p2c|c2p", "share_att_key": true, "norm_rel_ebd": "layer_norm"}`,
		`{"model_type": "gpt2", "n_positions": -5}`, `{"model_type": "gpt2", "vocab_size": 1e12}`, `{"model_type": 3}`, `[]`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	modeltest.AddSeeds(f, "peft/*/base/config.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		again, err := ConfigFromMap(c.Raw)
		if err != nil {
			t.Fatalf("accepted %q, then refused its own raw map: %v", data, err)
		}
		if again.ModelType != c.ModelType || again.Architecture != c.Architecture || again.VocabSize != c.VocabSize {
			t.Fatalf("%q parsed differently the second time", data)
		}
	})
}
