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

// TestInspectBART runs `ia3 inspect --json` on a small BART config.json,
// for generation and for classification, and checks that PEFT's default
// bart modules (q_proj, v_proj, fc2) of both stacks are listed in module
// order, fc2 marked feed-forward, the classification head left out.
func TestInspectBART(t *testing.T) {
	for _, tc := range []struct{ arch, task string }{
		{"BartForConditionalGeneration", "SEQ_2_SEQ_LM"},
		{"BartForSequenceClassification", "SEQ_CLS"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			dir := t.TempDir()
			js := fmt.Sprintf(`{"model_type":"bart","architectures":[%q],"vocab_size":32,"d_model":16,"encoder_layers":2,
				"decoder_layers":2,"encoder_attention_heads":4,"decoder_attention_heads":4,"encoder_ffn_dim":24,
				"decoder_ffn_dim":24,"max_position_embeddings":16}`, tc.arch)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644))
			r := run(t, "inspect", "--model", dir, "--json")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			assert.Equal(t, "bart", rep.ModelType)
			assert.Equal(t, tc.task, rep.TaskType)
			var want []string
			for i := 0; i < 2; i++ {
				p := fmt.Sprintf("model.encoder.layers.%d.", i)
				want = append(want, p+"self_attn.v_proj", p+"self_attn.q_proj", p+"fc2")
			}
			for i := 0; i < 2; i++ {
				p := fmt.Sprintf("model.decoder.layers.%d.", i)
				want = append(want, p+"self_attn.v_proj", p+"self_attn.q_proj", p+"encoder_attn.v_proj",
					p+"encoder_attn.q_proj", p+"fc2")
			}
			var got []string
			for _, l := range rep.Layers {
				got = append(got, l.Module)
				assert.Equal(t, 16, l.OutFeatures, l.Module)
				assert.Equal(t, filepath.Ext(l.Module) == ".fc2", l.Feedforward, l.Module)
			}
			assert.Equal(t, want, got)
		})
	}
}
