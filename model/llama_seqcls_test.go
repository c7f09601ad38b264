package model

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/nn"
)

// seqClsCases are small sequence classifiers of every Llama-family type
// transformers gives a …ForSequenceClassification.
func seqClsCases() []struct {
	name, typ, arch string
	extra           map[string]any
} {
	return []struct {
		name, typ, arch string
		extra           map[string]any
	}{
		{"llama", "llama", "LlamaForSequenceClassification", nil},
		{"mistral window 3", "mistral", "MistralForSequenceClassification", map[string]any{"sliding_window": 3}},
		{"qwen2", "qwen2", "Qwen2ForSequenceClassification", nil},
		{"qwen3", "qwen3", "Qwen3ForSequenceClassification", nil},
		{"gemma", "gemma", "GemmaForSequenceClassification", map[string]any{"num_key_value_heads": 1}},
		{"gemma2 final soft-cap unused", "gemma2", "Gemma2ForSequenceClassification", map[string]any{"sliding_window": 3,
			"final_logit_softcapping": 0.1}},
		{"gemma3_text", "gemma3_text", "Gemma3TextForSequenceClassification", map[string]any{"sliding_window": 3}},
		{"phi3", "phi3", "Phi3ForSequenceClassification", nil},
		{"mixtral", "mixtral", "MixtralForSequenceClassification", map[string]any{"num_local_experts": 3}},
	}
}

// TestDecoderSeqClsMatchesReference checks each classifier's logits
// [B, num_labels] against refDecoder's (the score head on the last token
// that is not pad_token_id) with a right-padded row, on the CPU and WebGPU.
func TestDecoderSeqClsMatchesReference(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range seqClsCases() {
				t.Run(c.name, func(t *testing.T) {
					extra := map[string]any{"architectures": []any{c.arch}, "num_labels": 3, "pad_token_id": 0}
					for k, v := range c.extra {
						extra[k] = v
					}
					m, err := NewRandom(tinyDecoder(t, c.typ, extra), b, 6)
					require.NoError(t, err)
					defer m.Free()
					randomNorms(t, m, 3)
					assert.Equal(t, "score", m.OutputLayer())
					in := &Inputs{Batch: 2, Seq: 6, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 0, 0},
						AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
					got, shape := logitsOf(t, m, in)
					require.Equal(t, []int{2, 3}, shape)
					want := refDecoder(t, m, in)
					assert.LessOrEqual(t, maxAbsDiff(want, got), 2e-4*math.Max(1, maxAbsOf(want)))
				})
			}
		})
	}
}

// TestDecoderSeqClsPooling checks the pooling rules: a left-padded row
// equals its tokens alone, a row of pad tokens only pools position 0, and
// without a pad token a batch of one pools the last position while a
// larger batch is refused as transformers refuses it.
func TestDecoderSeqClsPooling(t *testing.T) {
	b := testBackend(t)
	build := func(extra map[string]any) *Model {
		raw := map[string]any{"architectures": []any{"LlamaForSequenceClassification"}, "num_labels": 2}
		for k, v := range extra {
			raw[k] = v
		}
		m, err := NewRandom(tinyDecoder(t, "llama", raw), b, 2)
		require.NoError(t, err)
		t.Cleanup(m.Free)
		return m
	}
	m := build(map[string]any{"pad_token_id": 0})
	alone, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{5, 6, 7}})
	padded, _ := logitsOf(t, m, &Inputs{Batch: 2, Seq: 5, InputIDs: []int32{0, 0, 5, 6, 7, 9, 9, 9, 9, 9},
		AttentionMask: []int32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}})
	assert.InDeltaSlice(t, alone, padded[:2], 1e-5)
	first, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 1, InputIDs: []int32{0}})
	allPad, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{0, 0, 0}})
	assert.InDeltaSlice(t, first, allPad, 1e-5)

	none := build(nil)
	one, _ := logitsOf(t, none, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{5, 6, 0}})
	last, _ := logitsOf(t, none, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{5, 6, 0}, AttentionMask: []int32{1, 1, 1}})
	assert.Equal(t, one, last)
	g := nn.NewGraph(b, false)
	defer g.Release()
	none.Forward(g, &Inputs{Batch: 2, Seq: 2, InputIDs: []int32{5, 6, 7, 8}})
	require.Error(t, g.Err())
	assert.Contains(t, g.Err().Error(), "cannot handle batch sizes > 1 if no padding token is defined")
}

// TestDecoderSeqClsConfig checks the class names, num_labels and the
// pad_token_id defaults of the config classes.
func TestDecoderSeqClsConfig(t *testing.T) {
	for _, tc := range []struct {
		name, arch string
		extra      map[string]any
		labels     int
		pad        int
	}{
		{"llama", "LlamaForSequenceClassification", nil, 2, -1},
		{"gemma", "GemmaForSequenceClassification", map[string]any{"num_labels": 5}, 5, 0},
		{"gemma2", "Gemma2ForSequenceClassification", nil, 2, 0},
		{"llama null pad", "LlamaForSequenceClassification", map[string]any{"pad_token_id": nil}, 2, -1},
		{"phi3", "Phi3ForSequenceClassification", map[string]any{"id2label": map[string]any{"0": "a", "1": "b", "2": "c"}}, 3, 32000},
		{"mixtral", "MixtralForSequenceClassification", map[string]any{"pad_token_id": 2}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, _, _ := strings.Cut(tc.name, " ")
			extra := map[string]any{"architectures": []any{tc.arch}}
			for k, v := range tc.extra {
				extra[k] = v
			}
			c := tinyDecoder(t, typ, extra)
			assert.Equal(t, TaskSeqCls, c.TaskType)
			assert.Equal(t, tc.labels, c.NumLabels)
			assert.Equal(t, tc.pad, c.PadTokenID)
		})
	}
}

// TestDecoderSeqClsFromCausalCheckpoint loads a causal LM checkpoint as
// its sequence classifier, as AutoModelForSequenceClassification does:
// the base weights load, lm_head is skipped and score is new.
func TestDecoderSeqClsFromCausalCheckpoint(t *testing.T) {
	b := testBackend(t)
	src, err := NewRandom(tinyDecoder(t, "qwen3", map[string]any{"pad_token_id": 0}), b, 5)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, src.Save(dir))
	src.Free()
	m, err := LoadWith(context.Background(), dir, b, LoadOptions{Architecture: "Qwen3ForSequenceClassification", NumLabels: 4, Seed: 1})
	require.NoError(t, err)
	defer m.Free()
	assert.Equal(t, TaskSeqCls, m.Config().TaskType)
	shape, ok := m.ParamShape("score.weight")
	require.True(t, ok)
	assert.Equal(t, []int{4, 16}, shape)
	_, ok = m.ParamShape("lm_head.weight")
	assert.False(t, ok)
	got, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 3, InputIDs: []int32{4, 5, 6}})
	assert.Len(t, got, 4)
}
