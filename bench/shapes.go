// Package bench times (IA)³ training steps and forward passes on model
// shapes with random weights, on any backend. `ia3 bench` prints its
// results, and `go test -bench` runs it on tiny shapes. Result fields are
// named as shared/bench/peft_anchor.py names them (train_step_s,
// train_tokens_per_s, forward_tokens_per_s, peak_mem_gib), so the two
// outputs compare key by key.
package bench

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ia3/ia3/model"
)

// shapes are the named model shapes, as config.json contents.
var shapes = map[string]map[string]any{
	// GPT-2 small (124M), transformers' GPT2Config() defaults.
	"gpt2-small": {"model_type": "gpt2", "architectures": []any{"GPT2LMHeadModel"},
		"n_embd": 768.0, "n_layer": 12.0, "n_head": 12.0, "vocab_size": 50257.0, "n_positions": 1024.0},
	// TinyLlama 1.1B, as the anchor script's LlamaConfig.
	"llama-1b": {"model_type": "llama", "architectures": []any{"LlamaForCausalLM"},
		"hidden_size": 2048.0, "intermediate_size": 5632.0, "num_hidden_layers": 22.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 4.0, "vocab_size": 32000.0,
		"max_position_embeddings": 2048.0, "tie_word_embeddings": false},
	// Tiny shapes for tests and quick checks.
	"tiny-gpt2": {"model_type": "gpt2", "architectures": []any{"GPT2LMHeadModel"},
		"n_embd": 64.0, "n_layer": 2.0, "n_head": 4.0, "vocab_size": 256.0, "n_positions": 256.0},
	"tiny-llama": {"model_type": "llama", "architectures": []any{"LlamaForCausalLM"},
		"hidden_size": 64.0, "intermediate_size": 128.0, "num_hidden_layers": 2.0,
		"num_attention_heads": 4.0, "num_key_value_heads": 2.0, "vocab_size": 256.0,
		"max_position_embeddings": 256.0, "tie_word_embeddings": false},
}

// ShapeNames lists the named shapes, sorted.
func ShapeNames() []string { return slices.Sorted(maps.Keys(shapes)) }

// NamedShape returns the configuration of a named shape.
func NamedShape(name string) (*model.Config, error) {
	raw, ok := shapes[name]
	if !ok {
		return nil, fmt.Errorf("bench: unknown shape %q (known: %v, or a config.json)", name, ShapeNames())
	}
	c, err := model.ConfigFromMap(maps.Clone(raw))
	if err != nil {
		return nil, fmt.Errorf("bench: shape %s: %w", name, err)
	}
	return c, nil
}
