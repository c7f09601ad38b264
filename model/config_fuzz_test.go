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
