package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInspectNewDecoders runs `ia3 inspect --json` on the config.json of
// each newly supported Llama-family type and checks PEFT's default
// modules, in module order, with down_proj feed-forward.
func TestInspectNewDecoders(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		flags   []string
		targets []string
	}{
		{"mistral", nil, []string{"self_attn.k_proj", "self_attn.v_proj", "mlp.down_proj"}},
		{"qwen3", nil, []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}},
		{"gemma", nil, []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}},
		{"gemma2", nil, []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}},
		{"gemma3_text", nil, []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}},
		{"phi", nil, []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.fc2"}},
		{"gpt_neox", nil, []string{"attention.query_key_value", "mlp.dense_4h_to_h"}},
		{"opt", nil, []string{"self_attn.k_proj", "self_attn.q_proj", "fc2"}},
		{"gptj", nil, []string{"attn.v_proj", "attn.q_proj", "mlp.fc_out"}},
		{"gpt_neo", nil, []string{"attn.attention.v_proj", "attn.attention.q_proj", "mlp.c_proj"}},
		{"bloom", nil, []string{"self_attention.query_key_value", "mlp.dense_4h_to_h"}},
		{"gpt_bigcode", nil, []string{"attn.c_attn", "mlp.c_proj"}},
		{"falcon", nil, []string{"self_attention.query_key_value", "mlp.dense_4h_to_h"}},
		{"mixtral", nil, append([]string{"self_attn.k_proj", "self_attn.v_proj"}, mixtralW2(8)...)},
		{"phi3", []string{"--target-modules", "qkv_proj,down_proj", "--feedforward-modules", "down_proj"},
			[]string{"self_attn.qkv_proj", "mlp.down_proj"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			dir := tinyConfigDir(t, tc.typ)
			args := []string{"inspect", "--model", dir, "--json"}
			if tc.flags != nil {
				args = append(args, tc.flags...)
			}
			r := run(t, args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			assert.Equal(t, tc.typ, rep.ModelType)
			assert.Equal(t, "CAUSAL_LM", rep.TaskType)
			var got, want []string
			for _, l := range rep.Layers {
				got = append(got, l.Module)
				ff := strings.HasSuffix(l.Module, "down_proj") || strings.HasSuffix(l.Module, "fc2") ||
					strings.HasSuffix(l.Module, "dense_4h_to_h") || strings.HasSuffix(l.Module, "fc_out") || strings.HasSuffix(l.Module, "c_proj") ||
					strings.HasSuffix(l.Module, ".w2")
				assert.Equal(t, ff, l.Feedforward, l.Module)
			}
			for i := 0; i < 2; i++ {
				for _, m := range tc.targets {
					prefix := map[string]string{"gpt_neox": "gpt_neox.layers", "opt": "model.decoder.layers", "gptj": "transformer.h",
						"gpt_neo": "transformer.h", "bloom": "transformer.h", "gpt_bigcode": "transformer.h",
						"falcon": "transformer.h"}[tc.typ]
					if prefix == "" {
						prefix = "model.layers"
					}
					want = append(want, fmt.Sprintf("%s.%d.%s", prefix, i, m))
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

// mixtralW2 names the w2 of each of n experts inside a Mixtral layer.
func mixtralW2(n int) []string {
	out := make([]string, n)
	for e := range out {
		out[e] = fmt.Sprintf("block_sparse_moe.experts.%d.w2", e)
	}
	return out
}

// TestInspectPhi3NeedsTargets checks that Phi-3, which has no PEFT
// default (IA)³ modules, is refused without --target-modules.
func TestInspectPhi3NeedsTargets(t *testing.T) {
	r := run(t, "inspect", "--model", tinyConfigDir(t, "phi3"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "phi3")
	assert.Empty(t, r.stdout)
}

// tinyConfigDir writes a small config.json of model_type typ into a
// fresh directory.
func tinyConfigDir(t *testing.T, typ string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"model_type": typ, "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
		"sliding_window": 3, "rotary_pct": 0.5, // gpt_neox's head_dim 4 · 0.25 would rotate one feature
		"n_embd": 16, "n_layer": 2, "n_head": 2, "rotary_dim": 4, // gptj's GPT-2 names (and bloom's n_layer, n_head)
		"num_layers": 2, "num_heads": 4, "attention_types": []any{[]any{[]any{"global", "local"}, 1}}} // gpt_neo's
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o600))
	return dir
}

// TestInspectMT5 inspects the t5_gated fixture's config as model_type mt5:
// PEFT's mt5 defaults adapt k, v and wi_1, none of them feed-forward.
func TestInspectMT5(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixture(t, "t5_gated").Dir, "base", "config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	cfg["model_type"], cfg["architectures"] = "mt5", []string{"MT5ForConditionalGeneration"}
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o600))
	r := run(t, "inspect", "--model", dir, "--json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var rep inspectReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "SEQ_2_SEQ_LM", rep.TaskType)
	layers := int(cfg["num_layers"].(float64))
	require.Len(t, rep.Layers, 3*layers+5*layers, "k, v, wi_1 per encoder block; k, v twice and wi_1 per decoder block")
	for _, l := range rep.Layers {
		assert.False(t, l.Feedforward, l.Module)
		assert.True(t, strings.HasSuffix(l.Module, ".k") || strings.HasSuffix(l.Module, ".v") ||
			strings.HasSuffix(l.Module, ".wi_1"), l.Module)
	}
}
