package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestQuantizeFlag checks that every command that loads a base model for
// computing takes --quantize, and that a bad value is a usage error.
func TestQuantizeFlag(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	for _, name := range []string{"train", "forward", "generate", "eval", "serve"} {
		c, _, err := root.Find([]string{name})
		require.NoError(t, err, name)
		assert.NotNil(t, c.Flags().Lookup("quantize"), "%s --quantize", name)
	}
	c := fixture(t, "llama")
	r := run(t, "forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--quantize", "int4",
		"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", filepath.Join(t.TempDir(), "x.safetensors"))
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, `--quantize "int4": want int8 or nf4`)
}

// TestForwardQuantized runs `ia3 forward --quantize` with an adapter, and
// with the adapter merged (requantized), on the llama fixture: the logits
// stay within the quantized bases' stated tolerance of PEFT's float32 ones
// (model's TestQuantizedFixtureLogits).
func TestForwardQuantized(t *testing.T) {
	c := fixture(t, "llama")
	exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
	require.NoError(t, err)
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	for _, tc := range []struct {
		q, key string
		extra  []string
		tol    float64 // relative to max(1, max|logits|)
	}{{"int8", "logits_a", nil, 0.05}, {"nf4", "logits_a", nil, 0.6}, {"nf4", "logits_merged_a", []string{"--merge"}, 0.6}} {
		t.Run(tc.q+"/"+tc.key, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "logits.safetensors")
			args := append([]string{"forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--quantize", tc.q,
				"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out,
				"--adapter", filepath.Join(c.Dir, "adapters", "a")}, tc.extra...)
			r := run(t, args...)
			require.Equal(t, 0, r.code, r.stderr)
			got, err := modeltest.ReadTensors(out)
			require.NoError(t, err)
			ref := exp[tc.key]
			require.Equal(t, ref.Shape, got["logits"].Shape)
			// Scale the fixtures' float32 tolerance (1e-4·max(1, max|ref|))
			// up to the quantized one.
			diff, tol, _ := modeltest.CompareLogits(got["logits"].Data, got["logits"].Shape, ref, in.AttentionMask, c.Meta.TaskType)
			t.Logf("--quantize %s: max |logits − PEFT's float32 logits| = %.4f", tc.q, diff)
			assert.LessOrEqual(t, diff, tol/1e-4*tc.tol)
			assert.Positive(t, diff, "the logits did come from quantized weights")
		})
	}
}
