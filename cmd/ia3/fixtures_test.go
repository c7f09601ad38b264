package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestForwardParity runs `ia3 forward` on every fixture case with the
// adapter operations of expected.safetensors and compares the written
// logits with PEFT's, under the fixtures' tolerance (the float64 twin as
// reference where there is one). Keys PEFT refused must fail here too.
func TestForwardParity(t *testing.T) {
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
			require.NoError(t, err)
			in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			ad := func(n string) string { return filepath.Join(c.Dir, "adapters", n) }
			for _, tc := range []struct {
				key  string
				args []string
				// op and alt: where PEFT's op failed on a composite head
				// (fixture.IsCompositeHeadBug), ia3 succeeds and gives alt's
				// logits ("" when there is no reference).
				op, alt string
			}{
				{"logits_base", nil, "", ""},
				{"logits_a", []string{"--adapter", ad("a")}, "", ""},
				{"logits_b", []string{"--adapter", ad("a"), "--adapter", ad("b"), "--active", "b"}, "", ""},
				{"logits_a_and_b_active", []string{"--adapter", ad("a"), "--adapter", ad("b"), "--active", "a,b"}, "", ""},
				{"logits_disabled", []string{"--adapter", ad("a"), "--disable"}, "", ""},
				{"logits_weighted_w", []string{"--adapter", ad("a"), "--adapter", ad("b"), "--weighted", "a:0.6,b:0.4=w"}, "", ""},
				{"logits_merged_a", []string{"--adapter", ad("a"), "--merge"}, "merge_and_unload_a", "logits_a"},
				{"logits_merged_a_b", []string{"--adapter", ad("a"), "--adapter", ad("b"), "--merge=a,b"}, "merge_and_unload_a_b", ""},
			} {
				t.Run(tc.key, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), "logits.safetensors")
					args := append([]string{"forward", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu",
						"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out}, tc.args...)
					r := run(t, args...)
					key := tc.key
					if _, ok := exp[key]; !ok && tc.op != "" && c.Meta.PEFTBug(tc.op) {
						require.Equal(t, 0, r.code, "PEFT fails %s on a composite head, ia3 does not: %s", tc.op, r.stderr)
						if tc.alt == "" {
							return
						}
						key = tc.alt
					}
					ref, ok := exp[key+"_f64"]
					if !ok {
						ref, ok = exp[key]
					}
					if !ok {
						assert.Equal(t, exitFailure, r.code, "PEFT refused %s: %v", tc.key, c.Meta.Errors)
						assert.NotEmpty(t, r.stderr)
						return
					}
					require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
					got, err := modeltest.ReadTensors(out)
					require.NoError(t, err)
					require.Contains(t, got, "logits")
					diff, tol, err := modeltest.CompareLogits(got["logits"].Data, got["logits"].Shape, ref, in.AttentionMask, c.Meta.TaskType)
					require.NoError(t, err, "max diff %g, tolerance %g", diff, tol)
				})
			}
		})
	}
}

// TestInspectCounts checks `ia3 inspect --json` on every fixture case: the
// layer table equals meta.json's layers_default, and the parameter counts
// (computed from config.json alone) equal those of the loaded model with
// the default adapter attached.
func TestInspectCounts(t *testing.T) {
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			r := run(t, "inspect", "--model", filepath.Join(c.Dir, "base"), "--json")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			var rep inspectReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
			require.Len(t, rep.Layers, len(c.Meta.LayersDefault))
			for i, l := range c.Meta.LayersDefault {
				assert.Equal(t, strings.TrimPrefix(l.Name, "base_model.model."), rep.Layers[i].Module)
				assert.Equal(t, l.FeedForward, rep.Layers[i].Feedforward, l.Name)
			}

			m, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			cfg := ia3.NewConfig()
			cfg.TaskType = m.Config().TaskType
			pm, err := ia3.New(m, cfg, ia3.DefaultAdapter)
			require.NoError(t, err)
			trainable, all := pm.ParamCounts()
			assert.Equal(t, trainable, rep.TrainableParams)
			assert.Equal(t, all, rep.AllParams)
			assert.Equal(t, ia3.TrainableParametersLine(trainable, all), rep.Line)
		})
	}
}

// TestInspectLine checks the table output on the GPT-2 fixture against
// PEFT's line computed by hand: 2 blocks × (c_attn 192 + mlp.c_proj 256)
// trainable, 120,576 base parameters.
func TestInspectLine(t *testing.T) {
	c := fixture(t, "gpt2")
	r := run(t, "inspect", "--model", filepath.Join(c.Dir, "base"))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trainable params: 896 || all params: 121,472 || trainable%: 0.7376\n")
	assert.Contains(t, r.stdout, "transformer.h.1.mlp.c_proj")

	r = run(t, "inspect", "--model", filepath.Join(c.Dir, "base"), "--target-modules", "c_attn", "--feedforward-modules", "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "trainable params: 384 || all params: 120,960 || trainable%: 0.3175\n")
}

// fixture returns the named fixture case (see modeltest.NamedCase).
func fixture(t *testing.T, name string) modeltest.Case {
	t.Helper()
	return modeltest.NamedCase(t, name)
}

// TestMissingFiles checks that a missing input is one line naming it,
// with exit code 1.
func TestMissingFiles(t *testing.T) {
	c := fixture(t, "gpt2")
	base := filepath.Join(c.Dir, "base")
	missing := filepath.Join(t.TempDir(), "nothing-here")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"model", []string{"forward", "--model", missing, "--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", "x"}},
		{"inputs", []string{"forward", "--model", base, "--inputs", missing, "--out", "x"}},
		{"adapter", []string{"merge", "--model", base, "--adapter", missing, "--out", "x"}},
		{"tokenizer", []string{"generate", "--model", base, "--prompt", "hi"}},
		{"config", []string{"inspect", "--model", base, "--config", missing}},
		{"fixtures", []string{"conformance", "--fixtures", missing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			assert.Equal(t, exitFailure, r.code)
			if tc.name == "tokenizer" {
				assert.Contains(t, r.stderr, filepath.Join(base, "tokenizer.json"))
			} else {
				assert.Contains(t, r.stderr, missing)
			}
			assert.Equal(t, 1, countLines(r.stderr), "%q", r.stderr)
		})
	}
}

func countLines(s string) int {
	n := 0
	for _, c := range s {
		if c == '\n' {
			n++
		}
	}
	return n
}

// TestDevicesJSON checks that `ia3 devices --json` parses and lists the
// CPU as able to compute.
func TestDevicesJSON(t *testing.T) {
	r := run(t, "devices", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var ds []deviceJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ds))
	var cpu *deviceJSON
	for i := range ds {
		if ds[i].Spec == "cpu" {
			cpu = &ds[i]
		}
	}
	require.NotNil(t, cpu, "cpu listed")
	assert.True(t, cpu.Compute)
	assert.Equal(t, "Go", cpu.API)
	assert.True(t, cpu.QuantizedWeights, "the CPU backend runs --quantize")
	r = run(t, "devices")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "SPEC")
}

// TestWeightedAndMerge checks that `ia3 weighted` writes PEFT's weighted
// adapter byte for byte, and that `ia3 merge` writes a checkpoint whose
// logits equal PEFT's merged model.
func TestWeightedAndMerge(t *testing.T) {
	c := fixture(t, "llama")
	base := filepath.Join(c.Dir, "base")
	out := filepath.Join(t.TempDir(), "w")
	r := run(t, "weighted", "--model", base, "--device", "cpu", "--adapter", filepath.Join(c.Dir, "adapters", "a"),
		"--adapter", filepath.Join(c.Dir, "adapters", "b"), "--weights", "a:0.6,b:0.4", "--name", "w", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	for _, f := range []string{"adapter_model.safetensors", "adapter_config.json"} {
		want, err := os.ReadFile(filepath.Join(c.Dir, "adapters", "w", f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		if f == "adapter_model.safetensors" {
			assert.Equal(t, want, got, f)
		} else {
			assert.JSONEq(t, string(want), string(got), f)
		}
	}

	checkMergeA(t, c, "logits_merged_a")
}

// checkMergeA runs `ia3 merge` with the case's adapter a, then `ia3
// forward` on the merged checkpoint, and compares the logits with
// expected key.
func checkMergeA(t *testing.T, c modeltest.Case, key string) {
	t.Helper()
	merged := filepath.Join(t.TempDir(), "merged")
	r := run(t, "merge", "--model", filepath.Join(c.Dir, "base"), "--device", "cpu", "--adapter", filepath.Join(c.Dir, "adapters", "a"), "--safe", "--out", merged)
	require.Equal(t, 0, r.code, r.stderr)
	logits := filepath.Join(t.TempDir(), "l.safetensors")
	r = run(t, "forward", "--model", merged, "--device", "cpu", "--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", logits)
	require.Equal(t, 0, r.code, r.stderr)
	got, err := modeltest.ReadTensors(logits)
	require.NoError(t, err)
	exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
	require.NoError(t, err)
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	_, _, err = modeltest.CompareLogits(got["logits"].Data, got["logits"].Shape, exp[key], in.AttentionMask, c.Meta.TaskType)
	require.NoError(t, err)
}

// TestMergeClassificationHeads checks `ia3 merge` on the sequence
// classification fixtures: bert (a Linear classifier, which PEFT merges)
// against PEFT's merged logits, and roberta (a RobertaClassificationHead
// without a weight of its own, where PEFT 0.21's merge_and_unload fails)
// against adapter a's logits.
func TestMergeClassificationHeads(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"bert", "logits_merged_a"},
		{"roberta", "logits_a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMergeA(t, fixture(t, tc.name), tc.key)
		})
	}
}
