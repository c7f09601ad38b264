package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/safetensors"
)

// writeChoices writes n multiple-choice lines to dir/choices.jsonl.
func writeChoices(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	colours := []string{" blue", " green", " white", " black"}
	for i := range n {
		fmt.Fprintf(&b, `{"input": "the colour %d is", "choices": [%q, %q], "label": %d}`+"\n",
			i%2, colours[i%4], colours[(i+1)%4], i%2)
	}
	path := filepath.Join(dir, "choices.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// TestTFewTrainEvalClassify trains with --recipe t-few through the CLI,
// evaluates (accuracy reported), and classifies one example: the scores
// `ia3 classify` prints equal the log-likelihoods computed from the
// logits `ia3 forward` writes for each choice.
func TestTFewTrainEvalClassify(t *testing.T) {
	dir, _ := tinyModelDir(t)
	data := writeChoices(t, t.TempDir(), 8)
	out := filepath.Join(t.TempDir(), "adapter")
	r := run(t, "train", "--recipe", "t-few", "--model", dir, "--data", data, "--steps", "3", "--batch-size", "4",
		"--ul-weight", "0.5", "--device", "cpu", "--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "adapter saved to "+out)

	r = run(t, "eval", "--model", dir, "--adapter", out, "--data", data, "--device", "cpu", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var e evalJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e))
	require.NotNil(t, e.Accuracy, "choices data reports accuracy")
	assert.Equal(t, 8, e.Examples)

	input, choices := "the colour 1 is", []string{" blue", " green", " white"}
	args := []string{"classify", "--model", dir, "--adapter", out, "--input", input, "--device", "cpu"}
	for _, c := range choices {
		args = append(args, "--choice", c)
	}
	best := checkClassifyAgainstForward(t, dir, []string{"--adapter", out}, input, choices)
	r = run(t, args...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "pick: "+choices[best])

	r = run(t, "classify", "--model", dir, "--adapter", out, "--data", data, "--device", "cpu")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 8, strings.Count(r.stdout, "\n"))
	assert.Contains(t, r.stderr, "accuracy ")
}

// TestClassifyMatchesForward: on the gpt2 and t5 fixtures (base models),
// the log-likelihoods `ia3 classify` prints equal those computed from the
// logits `ia3 forward` writes for each choice, and the pick is the best.
func TestClassifyMatchesForward(t *testing.T) {
	for _, name := range []string{"gpt2", "t5"} {
		t.Run(name, func(t *testing.T) {
			dir, _ := fixtureModelDir(t, name)
			checkClassifyAgainstForward(t, dir, nil, "is the sky blue or green", []string{" blue", " green", " it is grey today"})
		})
	}
}

// checkClassifyAgainstForward runs `ia3 classify --json` on one example
// and compares every choice's log-likelihood with the float64 one computed
// from `ia3 forward` logits of that choice alone (causal: input and choice
// as input_ids; seq2seq: input as input_ids, choice as labels). It returns
// the best choice by mean log-likelihood.
func checkClassifyAgainstForward(t *testing.T, dir string, adapter []string, input string, choices []string) int {
	t.Helper()
	args := append([]string{"classify", "--model", dir, "--input", input, "--device", "cpu", "--json"}, adapter...)
	for _, c := range choices {
		args = append(args, "--choice", c)
	}
	r := run(t, args...)
	require.Equal(t, 0, r.code, r.stderr)
	var res classifyJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.Len(t, res.Choices, len(choices))

	cfg, err := model.LoadConfig(dir)
	require.NoError(t, err)
	ex, err := train.EncodeChoices(dir, cfg, input, choices, 512)
	require.NoError(t, err)
	seq2seq := cfg.TaskType == model.TaskSeq2SeqLM
	best, bestMean := -1, math.Inf(-1)
	for c, ch := range ex.Choices {
		tensors := []safetensors.Tensor{safetensors.I64Tensor("input_ids", []int{1, len(ex.Input)}, i64(ex.Input))}
		first := 0
		if seq2seq {
			tensors = append(tensors, safetensors.I64Tensor("labels", []int{1, len(ch)}, i64(ch)))
		} else {
			ids := append(i64(ex.Input), i64(ch)...)
			tensors[0] = safetensors.I64Tensor("input_ids", []int{1, len(ids)}, ids)
			first = len(ex.Input) - 1
		}
		inputs := filepath.Join(t.TempDir(), "in.safetensors")
		require.NoError(t, safetensors.Write(inputs, tensors, nil))
		logitsFile := filepath.Join(t.TempDir(), "logits.safetensors")
		r := run(t, append([]string{"forward", "--model", dir, "--inputs", inputs, "--out", logitsFile, "--device", "cpu"}, adapter...)...)
		require.Equal(t, 0, r.code, r.stderr)
		f, err := safetensors.Open(logitsFile)
		require.NoError(t, err)
		logits, err := f.Float32("logits")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		V := cfg.VocabSize
		want := 0.0
		for i, tok := range ch {
			want += logProb(logits[(first+i)*V:(first+i+1)*V], int(tok))
		}
		assert.InDelta(t, want, res.Choices[c].LogLik, 1e-4*math.Max(1, math.Abs(want)), "choice %d", c)
		assert.Equal(t, choices[c], res.Choices[c].Choice)
		assert.Equal(t, len(ch), res.Choices[c].Tokens)
		if m := want / float64(len(ch)); m > bestMean {
			best, bestMean = c, m
		}
	}
	assert.Equal(t, best, res.Pick)
	return best
}

// TestTFewUsageErrors: recipe flags misused exit 2 with one line.
func TestTFewUsageErrors(t *testing.T) {
	dir, data := tinyModelDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--model", dir, "--data", data, "--out", t.TempDir(), "--ul-weight", "2"}, "belong to --recipe t-few"},
		{[]string{"train", "--model", dir, "--data", data, "--out", t.TempDir(), "--recipe", "x"}, `--recipe "x"`},
		{[]string{"train", "--model", dir, "--data", data, "--out", t.TempDir(), "--recipe", "t-few", "--lm-weight", "-1"}, "lm loss weight -1"},
		{[]string{"classify", "--model", dir, "--input", "q", "--choice", "a"}, "at least two --choice"},
		{[]string{"classify", "--model", dir}, "give --input and at least two --choice, or --data"},
		{[]string{"classify", "--model", dir, "--data", data, "--input", "q"}, "not both"},
	} {
		t.Run(strings.Join(c.args[:1], " ")+" "+c.want, func(t *testing.T) {
			r := run(t, c.args...)
			assert.Equal(t, 2, r.code, r.stderr)
			assert.Contains(t, r.stderr, c.want)
		})
	}
}

// i64 widens token ids for a safetensors inputs file.
func i64(ids []int32) []int64 {
	out := make([]int64, len(ids))
	for i, v := range ids {
		out[i] = int64(v)
	}
	return out
}

// logProb is log softmax(row)[y] in float64.
func logProb(row []float32, y int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[y]) - mx - math.Log(s)
}

// TestMixedAdapterTraining trains two adapters in one run through the CLI:
// each is saved in its own directory and evaluates with ia3 eval.
func TestMixedAdapterTraining(t *testing.T) {
	dir, data := tinyModelDir(t)
	other := filepath.Join(t.TempDir(), "other.jsonl")
	var b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&b, `{"prompt": "count %d:", "completion": " %d %d"}`+"\n", i, i+1, i+2)
	}
	require.NoError(t, os.WriteFile(other, []byte(b.String()), 0o644))
	out := filepath.Join(t.TempDir(), "ads")
	r := run(t, "train", "--model", dir, "--adapter-data", "fox="+data, "--adapter-data", "count="+other,
		"--steps", "3", "--batch-size", "4", "--lr", "0.05", "--device", "cpu", "--no-plot", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	for _, name := range []string{"fox", "count"} {
		assert.FileExists(t, filepath.Join(out, name, "adapter_model.safetensors"))
	}
	base := evalLoss(t, "--model", dir, "--data", data)
	tuned := evalLoss(t, "--model", dir, "--data", data, "--adapter", filepath.Join(out, "fox"))
	assert.Less(t, tuned, base, "the fox adapter lowers the loss on its data")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--adapter-data", "fox=" + data}, "at least two adapters"},
		{[]string{"--adapter-data", "fox", "--adapter-data", "b=" + data}, `--adapter-data "fox": want NAME=FILE`},
		{[]string{"--data", data, "--adapter-data", "fox=" + data}, "not both"},
	} {
		r := run(t, append([]string{"train", "--model", dir, "--out", t.TempDir(), "--device", "cpu"}, c.args...)...)
		assert.Equal(t, 2, r.code, r.stderr)
		assert.Contains(t, r.stderr, c.want)
	}
}
