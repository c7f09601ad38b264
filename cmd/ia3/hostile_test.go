package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/safetensors"
)

// hostile is one command line a hostile or careless user might type, and
// what its one line on stderr must say.
type hostile struct {
	name string
	args []string
	want []string
}

// checkHostile runs each case and requires exit 1 (a run-time failure,
// never 2, the usage code, nor a crash) and exactly one line on stderr
// holding every wanted fragment.
func checkHostile(t *testing.T, cases []hostile) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			require.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

// TestWeightedNameTaken checks that a weighted adapter named like a loaded
// one is refused: PEFT's add_weighted_adapter returns early, and the
// result used to be saved as a byte copy of the loaded adapter.
func TestWeightedNameTaken(t *testing.T) {
	c := fixture(t, "llama")
	base := filepath.Join(c.Dir, "base")
	a, b := filepath.Join(c.Dir, "adapters", "a"), filepath.Join(c.Dir, "adapters", "b")
	out := filepath.Join(t.TempDir(), "w")
	checkHostile(t, []hostile{
		{"weighted", []string{"weighted", "--model", base, "--device", "cpu", "--adapter", a, "--adapter", b,
			"--weights", "a:0.6,b:0.4", "--name", "a", "--out", out}, []string{`--name a: adapter "a" is already loaded from ` + a}},
		{"forward", []string{"forward", "--model", base, "--device", "cpu", "--adapter", a, "--adapter", b,
			"--weighted", "a:0.6,b:0.4=b", "--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out},
			[]string{`--weighted b: adapter "b" is already loaded from ` + b, "choose another name"}},
	})
	assert.NoDirExists(t, out, "nothing saved")
}

// tinyGPT2 is a GPT-2 config.json small enough to build in a test.
const tinyGPT2 = `{"model_type": "gpt2", "vocab_size": 32, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 16}`

// writeFile writes body to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// modelDirWith returns a directory holding config.json with body.
func modelDirWith(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "config.json", body)
	return dir
}

// TestHostileConfigs checks that absurd sizes in a config.json end with
// exit 1 and one line naming the field, before anything is allocated:
// n_positions -5 used to panic in makeslice (exit 2, Go's panic code), a
// vocabulary of 10¹² or --batch 10⁸ died with "out of memory".
func TestHostileConfigs(t *testing.T) {
	dir := t.TempDir()
	negative := writeFile(t, dir, "negative-positions.json", `{"model_type": "gpt2", "n_positions": -5}`)
	vocab := writeFile(t, dir, "vocab.json", `{"model_type": "gpt2", "vocab_size": 1e12}`)
	params := writeFile(t, dir, "params.json", `{"model_type": "llama", "hidden_size": 1048576, "num_attention_heads": 8192, "intermediate_size": 16777216}`)
	checkHostile(t, []hostile{
		{"bench negative positions", []string{"bench", "--config", negative, "--device", "cpu"},
			[]string{negative, "n_positions must be in [1, 16777216], got -5"}},
		{"bench huge vocab", []string{"bench", "--config", vocab, "--device", "cpu"},
			[]string{vocab, "vocab_size must be in [1, 16777216], got 1000000000000"}},
		{"bench too many params", []string{"bench", "--config", params, "--device", "cpu"},
			[]string{params, "over the limit of 1.1e+12"}},
		{"bench huge batch", []string{"bench", "--shape", "tiny-gpt2", "--device", "cpu", "--batch", "100000000", "--seq", "64"},
			[]string{"a training step of 100000000 × 64 tokens needs at least", "more than the", "system memory", "it fits with --batch "}},
		{"bench huge batch forward", []string{"bench", "--shape", "gpt2-small", "--device", "cpu", "--batch", "100000", "--seq", "1024", "--no-train"},
			[]string{"a forward pass of 100000 × 1024 tokens needs at least 25.6 TiB"}},
		{"inspect negative positions", []string{"inspect", "--model", modelDirWith(t, `{"model_type": "gpt2", "n_positions": -5}`)},
			[]string{"n_positions must be in [1, 16777216], got -5"}},
		{"inspect huge vocab", []string{"inspect", "--model", modelDirWith(t, `{"model_type": "bert", "vocab_size": 1e12}`)},
			[]string{"vocab_size must be in"}},
		{"inspect negative labels", []string{"inspect", "--model", modelDirWith(t, `{"model_type": "bert", "architectures": ["BertForSequenceClassification"], "num_labels": -3}`)},
			[]string{"num_labels must be in [1, 16777216], got -3"}},
	})
}

// TestForwardTooLarge checks that a forward whose logits cannot fit (a
// wide vocabulary over a large inputs file) is refused before the weights
// are read (there are none here).
func TestForwardTooLarge(t *testing.T) {
	dir := modelDirWith(t, `{"model_type": "gpt2", "vocab_size": 16777216, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 16}`)
	inputs := filepath.Join(t.TempDir(), "inputs.safetensors")
	require.NoError(t, safetensors.Write(inputs, []safetensors.Tensor{
		safetensors.I64Tensor("input_ids", []int{1024, 16}, make([]int64, 1024*16))}, nil))
	checkHostile(t, []hostile{{"forward", []string{"forward", "--model", dir, "--device", "cpu", "--inputs", inputs,
		"--out", filepath.Join(t.TempDir(), "o.safetensors")},
		[]string{"forward on " + inputs + ": a forward pass of 1024 × 16 tokens needs at least 1.0 TiB"}}})
}

// TestBenchConfigAnyName checks that --config takes a JSON file of any
// name (it used to want config.json) as well as a directory.
func TestBenchConfigAnyName(t *testing.T) {
	path := writeFile(t, t.TempDir(), "tiny.json", tinyGPT2)
	for _, arg := range []string{path, modelDirWith(t, tinyGPT2)} {
		r := run(t, "bench", "--config", arg, "--device", "cpu", "--batch", "1", "--seq", "4", "--steps", "1", "--warmup", "0", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"train_step_s"`)
	}
}

// TestGuardPanics checks that a panic escaping a command ends with one
// line and exit 1, not Go's exit code 2, which means a usage error here.
func TestGuardPanics(t *testing.T) {
	var stderr bytes.Buffer
	code := guard(&stderr, func() int { panic("boom\nsecond line") })
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "ia3: internal error (please report it, with --log-level debug output): boom; second line\n", stderr.String())
	assert.Equal(t, 0, guard(&stderr, func() int { return 0 }))
}

// TestAdapterErrorsBounded checks an adapter file with ten thousand keys
// the model lacks: one line naming the first ten (sorted) and the count,
// where the whole list used to be printed (8.9 MB for a million keys), and
// the "load adapter" prefix said once.
func TestAdapterErrorsBounded(t *testing.T) {
	c := fixture(t, "gpt2")
	src := filepath.Join(c.Dir, "adapters", "a")
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "adapter_config.json"))
	require.NoError(t, err)
	writeFile(t, dir, "adapter_config.json", string(cfg))
	f, err := safetensors.Open(filepath.Join(src, "adapter_model.safetensors"))
	require.NoError(t, err)
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		v, err := f.Float32(n)
		require.NoError(t, err)
		info, _ := f.Info(n)
		ts = append(ts, safetensors.F32Tensor(n, info.Shape, v))
	}
	require.NoError(t, f.Close())
	for i := range 10_000 {
		ts = append(ts, safetensors.F32Tensor(fmt.Sprintf("extra.%05d", i), []int{1}, []float32{1}))
	}
	require.NoError(t, safetensors.Write(filepath.Join(dir, "adapter_model.safetensors"), ts, nil))

	r := run(t, "forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--adapter", dir+"=x",
		"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", filepath.Join(t.TempDir(), "o.safetensors"))
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
	assert.Less(t, len(r.stderr), 1000, r.stderr)
	assert.Contains(t, r.stderr, "unexpected keys: extra.00000, extra.00001,")
	assert.Contains(t, r.stderr, "extra.00009, and 9990 more")
	assert.Equal(t, 1, strings.Count(r.stderr, "load adapter"), r.stderr)
}

// TestErrorPrefixesOnce checks that wrapped errors do not repeat their
// prefixes ("load adapter X from D: load adapter X ...", "safetensors: ...
// safetensors: ...", "load tokenizer: tokenizer: ...").
func TestErrorPrefixesOnce(t *testing.T) {
	dir := modelDirWith(t, tinyGPT2)
	weights := writeFile(t, dir, "model.safetensors", "\x08\x00\x00\x00\x00\x00\x00\x00{}")
	tok := writeFile(t, dir, "tokenizer.json", "{bad")
	inputs := filepath.Join(t.TempDir(), "inputs.safetensors")
	require.NoError(t, safetensors.Write(inputs, []safetensors.Tensor{safetensors.I64Tensor("input_ids", []int{1, 2}, []int64{1, 2})}, nil))
	for _, tc := range []struct {
		name, prefix, file string
		args               []string
	}{
		{"weights", " safetensors: ", weights, []string{"forward", "--model", dir, "--device", "cpu", "--inputs", inputs, "--out", filepath.Join(t.TempDir(), "o")}},
		{"tokenizer", "tokenizer:", tok, []string{"generate", "--model", dir, "--device", "cpu", "--prompt", "hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			require.Equal(t, exitFailure, r.code, r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, tc.prefix), r.stderr)
			assert.Contains(t, r.stderr, tc.file)
		})
	}
}

// TestTrainEvalTooLarge checks that train and eval refuse, before loading
// weights (there are none here), a run whose memory estimate exceeds the
// device, as bench, forward and generate do.
func TestTrainEvalTooLarge(t *testing.T) {
	dir := modelDirWith(t, `{"model_type": "gpt2", "vocab_size": 16777216, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 4096}`)
	data := writeFile(t, t.TempDir(), "data.jsonl", `{"text": "hello"}`+"\n")
	checkHostile(t, []hostile{
		{"train", []string{"train", "--model", dir, "--data", data, "--device", "cpu", "--batch-size", "64", "--max-len", "4096",
			"--out", filepath.Join(t.TempDir(), "out")},
			[]string{"a training step of 64 × 4096 tokens needs at least", "more than the", "system memory"}},
		{"eval", []string{"eval", "--model", dir, "--data", data, "--device", "cpu", "--batch-size", "64", "--max-len", "4096"},
			[]string{"a forward pass of 64 × 4096 tokens needs at least", "more than the", "system memory"}},
	})
}

// TestNonFiniteFlags checks that NaN and infinite sampling temperatures,
// top-p values and adapter weights are refused with exit 1 before anything
// is loaded (they were once accepted and sampled from NaN probabilities).
func TestNonFiniteFlags(t *testing.T) {
	checkHostile(t, []hostile{
		{"temperature NaN", []string{"generate", "--model", "m", "--prompt", "p", "--temperature", "NaN"}, []string{"--temperature NaN: want a finite number"}},
		{"temperature +Inf", []string{"generate", "--model", "m", "--prompt", "p", "--temperature", "+Inf"}, []string{"--temperature +Inf: want a finite number"}},
		{"top-p nan", []string{"generate", "--model", "m", "--prompt", "p", "--temperature", "1", "--top-p", "nan"}, []string{"--top-p NaN: want a finite number"}},
		{"weight NaN", []string{"weighted", "--model", "m", "--adapter", "a", "--weights", "a:NaN", "--out", "o"}, []string{`weight "NaN" of a is not a finite number`}},
		{"weight -Inf", []string{"forward", "--model", "m", "--inputs", "i", "--out", "o", "--adapter", "a", "--weighted", "a:-Inf=w"}, []string{"not a finite number"}},
	})
}
