package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
)

// TestDataErrors checks that bad data is refused with the file and line.
func TestDataErrors(t *testing.T) {
	b := openCPU(t)
	for _, tc := range []struct {
		name, fixture string
		lines         []string
		want          string // after "<file>:"
	}{
		{"malformed JSON", "gpt2", []string{`{"text": "ok"}`, `{"text": "broken"`}, `:2: invalid JSON`},
		{"missing field", "gpt2", []string{`{"body": "x"}`}, `:1: missing field "prompt", "completion"`},
		{"wrong type", "gpt2", []string{`{"text": 3}`}, `:1: field "text" must be a string`},
		{"no counted token", "gpt2", []string{`{"text": "ab"}`, `{"text": "x"}`}, `:2: no token to predict`},
		{"completion truncated away", "gpt2", []string{fmt.Sprintf(`{"prompt": %q, "completion": "z"}`, "0123456789012345678901234567890123456789012345678901234567890123456789")}, `:1: no token to predict`},
		{"label out of range", "bert", []string{`{"text": "a", "label": 1}`, `{"text": "b", "label": 3}`}, `:2: label 3 is outside the classes [0, 3)`},
		{"fractional label", "bert", []string{`{"text": "a", "label": 0.5}`}, `:1: label 0.5 is outside`},
		{"label not a number", "bert", []string{`{"text": "a", "label": [1]}`}, `:1: field "label" must be a number or a class name`},
		{"unknown label name", "bert", []string{`{"text": "a", "label": "LABEL_1"}`, `{"text": "a", "label": "pos"}`}, `:2: label "pos" is not a class of the model (label2id: "LABEL_0", "LABEL_1", "LABEL_2")`},
		{"seq2seq empty target", "t5", []string{`{"input": "a", "target": ""}`}, `:1: the target has no tokens`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeJSONL(t, tc.lines...)
			_, err := Run(context.Background(), Options{ModelDir: modelDir(t, tc.fixture), TrainFile: data, OutDir: t.TempDir(), Backend: b, MaxLength: 64})
			require.Error(t, err)
			assert.Contains(t, err.Error(), data+tc.want)
		})
	}
}

// TestEmptyData refuses a file without examples.
func TestEmptyData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("\n  \n"), 0o644))
	_, err := Run(context.Background(), Options{ModelDir: modelDir(t, "gpt2"), TrainFile: path, OutDir: t.TempDir(), Backend: openCPU(t)})
	require.ErrorContains(t, err, path+": no examples")
}

// TestBatchLayout checks padding, masks and labels of each task.
func TestBatchLayout(t *testing.T) {
	causal := &dataset{task: taskCausal, padID: 9, examples: []example{
		{ids: []int32{1, 2, 3}, labels: []int32{-100, 2, 3}},
		{ids: []int32{4}, labels: []int32{4}},
	}}
	in, tokens, counted := causal.batch([]int{0, 1})
	assert.Equal(t, &model.Inputs{Batch: 2, Seq: 3, InputIDs: []int32{1, 2, 3, 4, 9, 9}, AttentionMask: []int32{1, 1, 1, 1, 0, 0},
		Labels: []int32{-100, 2, 3, 4, -100, -100}}, in)
	assert.Equal(t, 4, tokens)
	assert.Equal(t, 2, counted)

	s2s := &dataset{task: taskSeq2Seq, examples: []example{{ids: []int32{1, 2}, labels: []int32{5}}, {ids: []int32{3}, labels: []int32{6, 7}}}}
	in, tokens, counted = s2s.batch([]int{1, 0})
	assert.Equal(t, []int32{6, 7, 5, -100}, in.Labels)
	assert.Equal(t, 2, in.DecoderSeq)
	assert.Equal(t, []int32{3, 0, 1, 2}, in.InputIDs)
	assert.Equal(t, 6, tokens)
	assert.Equal(t, 3, counted)

	cls := &dataset{task: taskSeqCls, examples: []example{{ids: []int32{1}, class: 2}, {ids: []int32{1, 2}, class: 0}}}
	in, _, counted = cls.batch([]int{0, 1})
	assert.Equal(t, []int32{2, 0}, in.Labels)
	assert.Equal(t, 2, counted)
}

// TestTruncateKeepsTrailingSpecials keeps an end-of-sequence token.
func TestTruncateKeepsTrailingSpecials(t *testing.T) {
	assert.Equal(t, []int32{1, 2, 9}, truncate([]int32{1, 2, 3, 4, 9}, 1, 3))
	assert.Equal(t, []int32{1, 2, 3}, truncate([]int32{1, 2, 3, 4, 9}, 0, 3))
	assert.Equal(t, []int32{1, 2}, truncate([]int32{1, 2}, 1, 3))
}

// TestEvalSplitIsSeeded checks that the split depends only on the seed.
func TestEvalSplitIsSeeded(t *testing.T) {
	ds := &dataset{task: taskSeqCls}
	for i := range 10 {
		ds.examples = append(ds.examples, example{class: int32(i)})
	}
	tr1, ev1, err := ds.split(0.3, 5)
	require.NoError(t, err)
	tr2, ev2, err := ds.split(0.3, 5)
	require.NoError(t, err)
	assert.Equal(t, ev1, ev2)
	assert.Equal(t, tr1, tr2)
	assert.Len(t, ev1.examples, 3)
	assert.Len(t, tr1.examples, 7)
	_, _, err = (&dataset{examples: ds.examples[:1]}).split(0.5, 1)
	require.ErrorContains(t, err, "leaves none to train on")
}

// TestClassLabelsByName maps label names through config.json's label2id.
func TestClassLabelsByName(t *testing.T) {
	cfg, err := model.ConfigFromMap(map[string]any{"model_type": "bert", "architectures": []any{"BertForSequenceClassification"},
		"vocab_size": 256.0, "hidden_size": 8.0, "num_hidden_layers": 1.0, "num_attention_heads": 2.0, "intermediate_size": 16.0,
		"id2label": map[string]any{"0": "neg", "1": "pos"}, "label2id": map[string]any{"neg": 0.0, "pos": 1.0}})
	require.NoError(t, err)
	enc := &hfEncoder{tok: mustByteTokenizer(t)}
	recs := []record{{text: "yes", labelName: "pos", byName: true}, {text: "no", labelName: "neg", byName: true}, {text: "ok", label: 1}}
	ds, err := tokenize(recs, taskSeqCls, enc, 16, cfg, false)
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 0, 1}, []int32{ds.examples[0].class, ds.examples[1].class, ds.examples[2].class})
	assert.Equal(t, []int32{'y', 'e', 's'}, ds.examples[0].ids)
}

// TestEvalSkipsExamplesWithoutTarget checks that evaluation leaves out,
// and counts, examples with no token to predict (one-token texts, a
// completion truncated away) instead of failing, and fails only when
// none remains; training data stays strict (TestDataErrors).
func TestEvalSkipsExamplesWithoutTarget(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	long := fmt.Sprintf(`{"prompt": %q, "completion": "z"}`, strings.Repeat("p", 40))
	lines := append([]string{`{"text": "x"}`, long}, textLines(5)...)
	m, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: writeJSONL(t, lines...), Backend: b, MaxLength: 32})
	require.NoError(t, err)
	assert.Equal(t, 2, m.Skipped)
	assert.Equal(t, 5, m.Examples)
	all, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: writeJSONL(t, textLines(5)...), Backend: b, MaxLength: 32})
	require.NoError(t, err)
	assert.InDelta(t, all.Loss, m.Loss, 1e-9, "the loss of the examples kept")

	data := writeJSONL(t, `{"text": "x"}`, `{"text": "y"}`)
	_, err = Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: data, Backend: b})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no example has a token to predict (all 2 skipped; the first: "+data+":1: no token to predict")

	// During training, eval data skips the same way.
	res, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: writeJSONL(t, textLines(4)...), EvalFile: writeJSONL(t, lines...),
		OutDir: t.TempDir(), Backend: b, MaxLength: 32, MaxSteps: 1, BatchSize: 4, NoPlot: true})
	require.NoError(t, err)
	require.Len(t, res.Evals, 1)
	assert.Equal(t, 2, res.Evals[0].Skipped)
	assert.Equal(t, 5, res.Evals[0].Examples)
}
