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

// TestInspectDeBERTa runs `ia3 inspect --json` on small deberta-v2 and
// deberta config.json files and checks that PEFT's defaults are listed in
// module order: key_proj and value_proj (v2) or in_proj (v1), and both
// attention.output.dense and output.dense, which PEFT's "output.dense"
// matches by suffix and marks feed-forward; pooler and classifier left out.
func TestInspectDeBERTa(t *testing.T) {
	for _, tc := range []struct {
		typ, arch, extra string
		attn             []string
		out              int
	}{
		{"deberta-v2", "DebertaV2ForSequenceClassification", `"relative_attention":true,"position_buckets":8,
			"max_relative_positions":16,"share_att_key":true,"pos_att_type":"p2c|c2p","norm_rel_ebd":"layer_norm",
			"position_biased_input":false`, []string{"attention.self.key_proj", "attention.self.value_proj"}, 16},
		{"deberta", "DebertaForSequenceClassification", `"relative_attention":true,"pos_att_type":"c2p|p2c"`,
			[]string{"attention.self.in_proj"}, 48},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			dir := t.TempDir()
			js := fmt.Sprintf(`{"model_type":%q,"architectures":[%q],"vocab_size":32,"hidden_size":16,
				"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":24,"max_position_embeddings":32,%s}`,
				tc.typ, tc.arch, tc.extra)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644))
			r := run(t, "inspect", "--model", dir, "--json")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			assert.Equal(t, tc.typ, rep.ModelType)
			assert.Equal(t, tc.arch, rep.Architecture)
			assert.Equal(t, "SEQ_CLS", rep.TaskType)
			var want []string
			for i := 0; i < 2; i++ {
				p := fmt.Sprintf("deberta.encoder.layer.%d.", i)
				for _, a := range tc.attn {
					want = append(want, p+a)
				}
				want = append(want, p+"attention.output.dense", p+"output.dense")
			}
			var got []string
			for _, l := range rep.Layers {
				got = append(got, l.Module)
				ff := strings.HasSuffix(l.Module, "output.dense")
				assert.Equal(t, ff, l.Feedforward, l.Module)
				if !ff {
					assert.Equal(t, tc.out, l.OutFeatures, l.Module)
				}
			}
			assert.Equal(t, want, got)
		})
	}
}
