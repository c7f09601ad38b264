package train

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/model"
)

// choiceLines returns n multiple-choice records: a question whose answer
// is a colour, always the same choice for a given question, so that the
// task is learnable by rote.
func choiceLines(n int) []string {
	qs := []string{"sky is", "grass is", "snow is", "coal is"}
	choices := []string{" blue", " green", " white", " black"}
	out := make([]string, n)
	for i := range out {
		q := i % len(qs)
		// Rotate the choices so the answer's position varies.
		rot := make([]string, len(choices))
		for j := range choices {
			rot[j] = choices[(j+i)%len(choices)]
		}
		label := (q - i%len(choices) + len(choices)) % len(choices)
		b, _ := json.Marshal(map[string]any{"input": "the " + qs[q], "choices": rot, "label": label})
		out[i] = string(b)
	}
	return out
}

// TestRunTFewRecipe trains causal and seq2seq models with the T-Few
// recipe: the loss falls, evaluation reports rank-classification accuracy
// that does not get worse, and Evaluate on the saved adapter agrees with
// the run's last evaluation.
func TestRunTFewRecipe(t *testing.T) {
	b := openCPU(t)
	for _, name := range []string{"gpt2", "t5"} {
		t.Run(name, func(t *testing.T) {
			dir := modelDir(t, name)
			data := writeJSONL(t, choiceLines(8)...)
			opts := TFewOptions()
			opts.ModelDir, opts.TrainFile, opts.EvalFile, opts.OutDir = dir, data, data, t.TempDir()
			opts.Backend, opts.MaxSteps, opts.BatchSize, opts.LR, opts.EvalEvery = b, 12, 4, 0.05, 12
			opts.NoPlot = true
			res, err := Run(context.Background(), opts)
			require.NoError(t, err)
			require.Len(t, res.Losses, 12)
			assert.Less(t, res.Losses[11], res.Losses[0], "loss should fall")
			require.Len(t, res.Evals, 1)
			last := res.Evals[0].Metrics
			assert.True(t, last.HasAccuracy)
			assert.Equal(t, 8, last.Examples)

			m, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, AdapterDir: opts.OutDir, DataFile: data, Backend: b})
			require.NoError(t, err)
			assert.True(t, m.HasAccuracy)
			assert.InDelta(t, last.Accuracy, m.Accuracy, 1e-12)
			assert.InDelta(t, last.Loss, m.Loss, 1e-5)
			before, err := Evaluate(context.Background(), EvalOptions{ModelDir: dir, DataFile: data, Backend: b})
			require.NoError(t, err)
			assert.Less(t, m.Loss, before.Loss, "the adapter should rank the right choices higher than the base model")
			assert.GreaterOrEqual(t, m.Accuracy, before.Accuracy)
		})
	}
}

// TestChoicesDataErrors: bad multiple-choice lines fail naming file, line
// and field; mixing recipe and data formats is refused.
func TestChoicesDataErrors(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "gpt2")
	good := `{"input": "q", "choices": ["a", "b"], "label": 1}`
	for _, c := range []struct {
		name, line, want string
	}{
		{"json", `{"input": "q", "choices": [`, "invalid JSON"},
		{"input", `{"choices": ["a"], "label": 0}`, `field "input": missing`},
		{"choices", `{"input": "q", "choices": [], "label": 0}`, `field "choices": missing or empty`},
		{"empty choice", `{"input": "q", "choices": ["a", ""], "label": 0}`, `field "choices": choice 1 is empty`},
		{"label range", `{"input": "q", "choices": ["a", "b"], "label": 2}`, `field "label": 2 is not a choice index in [0, 2)`},
		{"label type", `{"input": "q", "choices": ["a", "b"], "label": "a"}`, `field "label": "a" is not a choice index`},
		{"label fraction", `{"input": "q", "choices": ["a", "b"], "label": 0.5}`, `field "label": 0.5`},
		{"no label", `{"input": "q", "choices": ["a", "b"]}`, `field "label": missing`},
		{"choices type", `{"input": "q", "choices": "a", "label": 0}`, `invalid JSON`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := writeJSONL(t, good, c.line)
			opts := TFewOptions()
			opts.ModelDir, opts.TrainFile, opts.OutDir, opts.Backend, opts.MaxSteps = dir, data, t.TempDir(), b, 1
			_, err := Run(context.Background(), opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), data+":2: ")
			assert.Contains(t, err.Error(), c.want)
		})
	}
	t.Run("recipe without choices", func(t *testing.T) {
		opts := TFewOptions()
		opts.ModelDir, opts.TrainFile, opts.OutDir, opts.Backend = dir, writeJSONL(t, textLines(2)...), t.TempDir(), b
		_, err := Run(context.Background(), opts)
		require.ErrorContains(t, err, "the t-few recipe needs multiple-choice data")
	})
	t.Run("choices without recipe", func(t *testing.T) {
		_, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: writeJSONL(t, good), OutDir: t.TempDir(), Backend: b})
		require.ErrorContains(t, err, "trains with the t-few recipe (--recipe t-few)")
	})
	t.Run("weights", func(t *testing.T) {
		opts := TFewOptions()
		opts.ModelDir, opts.TrainFile, opts.OutDir, opts.Backend = dir, writeJSONL(t, good), t.TempDir(), b
		opts.TFewWeights = tfew.Weights{LM: -1, UL: 1}
		_, err := Run(context.Background(), opts)
		require.ErrorContains(t, err, "t-few lm loss weight -1")
	})
	t.Run("seq classification model", func(t *testing.T) {
		opts := TFewOptions()
		opts.ModelDir, opts.TrainFile, opts.OutDir, opts.Backend = modelDir(t, "bert"), writeJSONL(t, good), t.TempDir(), b
		_, err := Run(context.Background(), opts)
		require.ErrorContains(t, err, "multiple-choice data needs a causal LM or a seq2seq model")
	})
}

// TestEncodeChoices tokenises like the data files do (the byte
// tokenizer's ids are the bytes, with no special tokens): a long causal
// prompt keeps its end, a long seq2seq input its start.
func TestEncodeChoices(t *testing.T) {
	for _, c := range []struct {
		fixture, input string
		maxLen         int
		want           string
	}{
		{"gpt2", "abc", 16, "abc"},
		{"gpt2", "abcdefgh", 5, "efgh"},
		{"t5", "abcdefgh", 5, "abcde"},
	} {
		t.Run(fmt.Sprintf("%s %s %d", c.fixture, c.input, c.maxLen), func(t *testing.T) {
			dir := modelDir(t, c.fixture)
			cfg, err := model.LoadConfig(dir)
			require.NoError(t, err)
			ex, err := EncodeChoices(dir, cfg, c.input, []string{"x"}, c.maxLen)
			require.NoError(t, err)
			assert.Equal(t, -1, ex.Label)
			got := make([]byte, len(ex.Input))
			for i, id := range ex.Input {
				got[i] = byte(id)
			}
			assert.Equal(t, c.want, string(got))
			assert.Equal(t, [][]int32{{'x'}}, ex.Choices)
		})
	}
	dir := modelDir(t, "gpt2")
	cfg, err := model.LoadConfig(dir)
	require.NoError(t, err)
	_, err = EncodeChoices(dir, cfg, "q", []string{"a", ""}, 16)
	require.ErrorContains(t, err, "choice 1 is empty")
}

// TestTFewResume: a T-Few run resumed from a checkpoint reaches the loss
// history and adapter of the uninterrupted run.
func TestTFewResume(t *testing.T) {
	b := openCPU(t)
	dir := modelDir(t, "t5")
	data := writeJSONL(t, choiceLines(6)...)
	opts := func(out string) Options {
		o := TFewOptions()
		o.ModelDir, o.TrainFile, o.OutDir, o.Backend = dir, data, out, b
		o.MaxSteps, o.BatchSize, o.LR, o.CheckpointEvery, o.NoPlot, o.Seed = 4, 2, 0.05, 2, true, 5
		return o
	}
	whole := t.TempDir()
	want, err := Run(context.Background(), opts(whole))
	require.NoError(t, err)
	got, err := Resume(context.Background(), filepath.Join(whole, "checkpoint-2"), opts(t.TempDir()))
	require.NoError(t, err)
	assert.Equal(t, 4, got.Steps)
	require.Len(t, got.Losses, 4)
	for i := range want.Losses {
		assert.InDelta(t, want.Losses[i], got.Losses[i], 1e-6, "step %d", i+1)
	}
	a, err := os.ReadFile(filepath.Join(whole, ia3.WeightsFile))
	require.NoError(t, err)
	c, err := os.ReadFile(filepath.Join(got.AdapterDir, ia3.WeightsFile))
	require.NoError(t, err)
	assert.Equal(t, a, c, "resumed adapter equals the uninterrupted one")
}
