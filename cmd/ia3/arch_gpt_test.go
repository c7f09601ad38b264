package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInspectGPTFamily runs `ia3 inspect --json` on a small config.json of
// each GPT-style decoder and checks that PEFT's default (IA)³ modules for
// its type are listed, in module order, with the feed-forward ones marked
// and the fused projections' output sizes.
func TestInspectGPTFamily(t *testing.T) {
	for _, tc := range []struct {
		typ, config string
		layer       string
		targets     []string // per layer, in module order
		ff          string
		outs        []int
	}{
		{"opt", `"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,"ffn_dim":24`,
			"model.decoder.layers.%d.", []string{"self_attn.k_proj", "self_attn.q_proj", "fc2"}, "fc2", []int{16, 16, 16}},
		{"bloom", `"hidden_size":16,"n_layer":2,"n_head":4`,
			"transformer.h.%d.", []string{"self_attention.query_key_value", "mlp.dense_4h_to_h"}, "mlp.dense_4h_to_h", []int{48, 16}},
		{"falcon", `"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4`,
			"transformer.h.%d.", []string{"self_attention.query_key_value", "mlp.dense_4h_to_h"}, "mlp.dense_4h_to_h", []int{24, 16}},
		{"gpt_bigcode", `"n_embd":16,"n_layer":2,"n_head":4`,
			"transformer.h.%d.", []string{"attn.c_attn", "mlp.c_proj"}, "mlp.c_proj", []int{24, 16}},
		{"gptj", `"n_embd":16,"n_layer":2,"n_head":4,"rotary_dim":2`,
			"transformer.h.%d.", []string{"attn.v_proj", "attn.q_proj", "mlp.fc_out"}, "mlp.fc_out", []int{16, 16, 16}},
		{"gpt_neo", `"hidden_size":16,"num_layers":2,"num_heads":4,"attention_types":[[["global","local"],1]]`,
			"transformer.h.%d.", []string{"attn.attention.v_proj", "attn.attention.q_proj", "mlp.c_proj"}, "mlp.c_proj", []int{16, 16, 16}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			dir := t.TempDir()
			js := fmt.Sprintf(`{"model_type":%q,"vocab_size":32,%s}`, tc.typ, tc.config)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644))
			r := run(t, "inspect", "--model", dir, "--json")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			assert.Equal(t, tc.typ, rep.ModelType)
			assert.Equal(t, "CAUSAL_LM", rep.TaskType)
			var got, want []string
			var outs []int
			for _, l := range rep.Layers {
				got = append(got, l.Module)
				outs = append(outs, l.OutFeatures)
			}
			var wantOuts []int
			for i := 0; i < 2; i++ {
				for j, m := range tc.targets {
					name := fmt.Sprintf(tc.layer, i) + m
					want = append(want, name)
					wantOuts = append(wantOuts, tc.outs[j])
				}
			}
			assert.Equal(t, want, got)
			assert.Equal(t, wantOuts, outs)
			for _, l := range rep.Layers {
				assert.Equal(t, l.Module == fmt.Sprintf(tc.layer, 0)+tc.ff || l.Module == fmt.Sprintf(tc.layer, 1)+tc.ff,
					l.Feedforward, l.Module)
			}
		})
	}
}
