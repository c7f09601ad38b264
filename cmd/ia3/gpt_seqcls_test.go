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
	"github.com/ia3/ia3/model/safetensors"
)

// TestTrainGPT2SeqCls turns the gpt2 fixture into a
// GPT2ForSequenceClassification checkpoint (score new, lm_head dropped, as
// AutoModelForSequenceClassification.from_pretrained does; pad_token_id 0),
// trains it through the CLI on text/label lines and evaluates it: the
// adapter is PEFT's SEQ_CLS one (score in modules_to_save, saved as
// base_model.model.score.weight) and eval reports accuracy.
func TestTrainGPT2SeqCls(t *testing.T) {
	src, _ := fixtureModelDir(t, "gpt2")
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	m, err := model.LoadWith(context.Background(), src, b, model.LoadOptions{Architecture: "GPT2ForSequenceClassification",
		NumLabels: 2, Seed: 1})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	m.Free()
	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	cfg["pad_token_id"] = 0
	js, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))
	tok, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644))

	var lines strings.Builder
	for i := range 8 {
		fmt.Fprintf(&lines, `{"text": "review %d: the film was %s", "label": %d}`+"\n", i, []string{"dull", "great"}[i%2], i%2)
	}
	data := filepath.Join(t.TempDir(), "cls.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(lines.String()), 0o644))
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--model", dir, "--data", data, "--steps", "3", "--batch-size", "4", "--device", "cpu",
		"--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "adapter saved to "+out)

	var ac map[string]any
	js, err = os.ReadFile(filepath.Join(out, "adapter_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &ac))
	assert.Equal(t, "SEQ_CLS", ac["task_type"])
	assert.Contains(t, ac["modules_to_save"], "score")
	f, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
	require.NoError(t, err)
	names := f.Names()
	require.NoError(t, f.Close())
	assert.Contains(t, names, "base_model.model.score.weight")
	assert.Contains(t, names, "base_model.model.transformer.h.0.attn.c_attn.ia3_l")

	r = run(t, "eval", "--model", dir, "--adapter", out, "--data", data, "--device", "cpu", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var e evalJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e))
	require.NotNil(t, e.Accuracy, "classification data reports accuracy")
	assert.Equal(t, 8, e.Examples)
}
