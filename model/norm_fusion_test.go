package model

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
	"github.com/ia3/ia3/model/nn"
)

// normCounter counts the norm and residual operations that reach the
// backend.
type normCounter struct {
	backend.Backend
	calls map[string]int
}

func (c *normCounter) Add(a, b backend.Tensor) (backend.Tensor, error) {
	c.calls["Add"]++
	return c.Backend.Add(a, b)
}

func (c *normCounter) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	c.calls["LayerNorm"]++
	return c.Backend.LayerNorm(x, gamma, beta, eps)
}

func (c *normCounter) RMSNorm(x, w backend.Tensor, eps float32) (backend.Tensor, error) {
	c.calls["RMSNorm"]++
	return c.Backend.RMSNorm(x, w, eps)
}

func (c *normCounter) AddNorm(a, b backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	c.calls["AddNorm"]++
	return c.Backend.AddNorm(a, b, o)
}

// TestResidualNormsFused checks that a GPT-2 and a Llama forward pass run
// every residual add that a norm follows as one AddNorm: per layer two,
// less the first layer's input norm in Llama (nothing is added before
// it) and the last layer's MLP add (the final norm reads lastOnly's rows).
// GPT-2 also fuses the embeddings' sum with block 0's ln_1.
func TestResidualNormsFused(t *testing.T) {
	cpu, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { cpu.Close() })
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want map[string]int
	}{
		{"gpt2", map[string]any{"model_type": "gpt2", "architectures": []any{"GPT2LMHeadModel"},
			"n_embd": 16.0, "n_layer": 3.0, "n_head": 2.0, "vocab_size": 32.0, "n_positions": 16.0},
			map[string]int{"AddNorm": 6, "Add": 1, "LayerNorm": 1}},
		{"llama", map[string]any{"model_type": "llama", "architectures": []any{"LlamaForCausalLM"},
			"hidden_size": 16.0, "intermediate_size": 32.0, "num_hidden_layers": 3.0,
			"num_attention_heads": 2.0, "num_key_value_heads": 1.0, "vocab_size": 32.0,
			"max_position_embeddings": 16.0},
			map[string]int{"AddNorm": 5, "Add": 1, "RMSNorm": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromMap(tc.raw)
			require.NoError(t, err)
			b := &normCounter{Backend: cpu, calls: map[string]int{}}
			m, err := NewRandom(cfg, b, 1)
			require.NoError(t, err)
			defer m.Free()
			clear(b.calls)
			g := nn.NewGraph(b, false)
			defer g.Release()
			ids := []int32{1, 2, 3, 4, 5, 6}
			m.Forward(g, &Inputs{Batch: 1, Seq: 6, InputIDs: ids})
			require.NoError(t, g.Err())
			assert.Equal(t, tc.want, b.calls)
		})
	}
}
