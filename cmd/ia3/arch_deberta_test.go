package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
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

// TestTrainDeBERTa trains a random DeBERTa-v3-like classifier through the
// CLI on {"text", "label"} lines: the adapter (PEFT's deberta-v2 defaults
// plus the classifier) lowers the loss `ia3 eval` measures and the
// classify head's accuracy is reported.
func TestTrainDeBERTa(t *testing.T) {
	dir := t.TempDir()
	cfg, err := model.ParseConfig([]byte(`{"model_type":"deberta-v2","architectures":["DebertaV2ForSequenceClassification"],
		"vocab_size":256,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":24,
		"max_position_embeddings":64,"relative_attention":true,"position_buckets":8,"max_relative_positions":-1,
		"share_att_key":true,"pos_att_type":"p2c|c2p","norm_rel_ebd":"layer_norm","position_biased_input":false,
		"num_labels":2,"initializer_range":0.3}`))
	require.NoError(t, err)
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	m, err := model.NewRandom(cfg, b, 7)
	require.NoError(t, err)
	require.NoError(t, m.Save(dir))
	m.Free()
	tok, err := os.ReadFile(filepath.Join(fixture(t, "gpt2").Dir, "..", "tokenizers", "sentencepiece_unigram", "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644))
	var lines strings.Builder
	for i := range 16 {
		text, label := "the quick brown fox", 0
		if i%2 == 1 {
			text, label = "over the lazy dog jumps", 1
		}
		fmt.Fprintf(&lines, `{"text": "%s %d", "label": %d}`+"\n", text, i, label)
	}
	data := filepath.Join(dir, "data.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(lines.String()), 0o644))

	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "6", "--batch-size", "4", "--lr", "0.1",
		"--device", "cpu", "--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "adapter saved to "+out)
	base := evalLoss(t, "--model", dir, "--data", data)
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", out)
	assert.Less(t, tuned, base, "the trained adapter lowers the loss")
}
