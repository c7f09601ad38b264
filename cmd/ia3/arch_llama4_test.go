package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// llama4ConfigDir writes a small Llama 4 config.json: llama4_text, or the
// composite llama4 with it as text_config. Layer 1 is MoE, layer 0 dense.
func llama4ConfigDir(t *testing.T, composite bool) string {
	t.Helper()
	text := map[string]any{"model_type": "llama4_text", "vocab_size": 32, "hidden_size": 16, "intermediate_size": 12,
		"intermediate_size_mlp": 20, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"head_dim": 8, "num_local_experts": 4, "interleave_moe_layer_step": 2}
	cfg := text
	if composite {
		cfg = map[string]any{"model_type": "llama4", "architectures": []string{"Llama4ForConditionalGeneration"},
			"text_config": text, "vision_config": map[string]any{"hidden_size": 8}}
	}
	dir := t.TempDir()
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o600))
	return dir
}

// TestInspectLlama4 checks `ia3 inspect` on Llama 4: the composite takes
// PEFT's llama4 defaults (q_proj, v_proj, down_proj feed-forward), which
// match the dense MLP's and the shared expert's down_proj but not the
// fused experts (parameters, not Linear modules), under language_model.;
// llama4_text, which PEFT's tables lack, needs --target-modules.
func TestInspectLlama4(t *testing.T) {
	layers := []string{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
		"model.layers.0.feed_forward.down_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj",
		"model.layers.1.feed_forward.shared_expert.down_proj"}
	for _, tc := range []struct {
		name, typ string
		composite bool
		flags     []string
		prefix    string
	}{
		{"composite defaults", "llama4", true, nil, "language_model."},
		{"text with targets", "llama4_text", false, []string{"--target-modules", "q_proj,v_proj,down_proj",
			"--feedforward-modules", "down_proj"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"inspect", "--model", llama4ConfigDir(t, tc.composite), "--json"}, tc.flags...)...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			assert.Equal(t, tc.typ, rep.ModelType)
			assert.Equal(t, "CAUSAL_LM", rep.TaskType)
			var got, want []string
			for _, l := range rep.Layers {
				got = append(got, l.Module)
				assert.Equal(t, strings.HasSuffix(l.Module, "down_proj"), l.Feedforward, l.Module)
			}
			for _, l := range layers {
				want = append(want, tc.prefix+l)
			}
			assert.Equal(t, want, got)
		})
	}
	r := run(t, "inspect", "--model", llama4ConfigDir(t, false))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "llama4_text")
	assert.Empty(t, r.stdout)
}
