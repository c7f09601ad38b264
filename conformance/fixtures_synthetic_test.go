package conformance

import (
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// sourceCase returns the first PEFT fixture case found (whatever its
// name), skipping the test when there is none.
func sourceCase(t *testing.T) FixtureCase {
	t.Helper()
	for _, dir := range modeltest.PEFTDirs() {
		cases, err := findFixtureCases(dir)
		require.NoError(t, err)
		for _, c := range cases {
			if fileExists(filepath.Join(c.Dir, "expected.safetensors")) && fileExists(filepath.Join(c.Dir, "meta.json")) {
				return c
			}
		}
	}
	modeltest.Missing(t, "no PEFT fixture case with expected.safetensors and meta.json")
	return FixtureCase{}
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	}))
}

// editJSON rewrites a JSON object file through edit.
func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(data, &obj))
	edit(obj)
	data, err = json.Marshal(obj)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// editExpected rewrites expected.safetensors (as float32) through edit.
func editExpected(t *testing.T, caseDir string, edit func(map[string]modeltest.Tensor)) {
	t.Helper()
	path := filepath.Join(caseDir, "expected.safetensors")
	exp, err := modeltest.ReadTensors(path)
	require.NoError(t, err)
	edit(exp)
	var out []safetensors.Tensor
	for _, k := range slices.Sorted(maps.Keys(exp)) {
		out = append(out, safetensors.F32Tensor(k, exp[k].Shape, exp[k].Data))
	}
	require.NoError(t, safetensors.Write(path, out, nil))
}

// firstLogitsKey returns the first logits_* key in sorted order.
func firstLogitsKey(t *testing.T, exp map[string]modeltest.Tensor) string {
	t.Helper()
	var keys []string
	for k := range exp {
		if strings.HasPrefix(k, "logits_") {
			keys = append(keys, k)
		}
	}
	require.NotEmpty(t, keys)
	slices.Sort(keys)
	return keys[0]
}

// failures returns the failing rows of one case, as check → error.
func failures(rep *FixtureReport, caseName string) map[string]string {
	out := map[string]string{}
	for _, r := range rep.Results {
		if r.Case == caseName && !r.Pass {
			out[r.Check] = r.Err
		}
	}
	return out
}

// TestRunFixturesSyntheticDir builds a fixture directory from copies of one
// real case, renamed and nested, and checks that the runner finds every
// case by walking, passes the intact copy, and reports as failures a
// broken logits key, a key and a refusal no rule checks, and an
// architecture we do not support.
func TestRunFixturesSyntheticDir(t *testing.T) {
	src := sourceCase(t)
	root := t.TempDir()
	intact := filepath.Join(root, "renamed")
	broken := filepath.Join(root, "deeper", "nest", "broken")
	extra := filepath.Join(root, "deeper", "extra")
	alien := filepath.Join(root, "alien")
	for _, d := range []string{intact, broken, extra, alien} {
		copyTree(t, src.Dir, d)
	}
	// Not cases: no base/config.json, or nothing but a base model.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tokenizers", "bpe"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bare", "base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bare", "base", "config.json"), []byte(`{}`), 0o644))

	var brokenKey string
	editExpected(t, broken, func(exp map[string]modeltest.Tensor) {
		brokenKey = firstLogitsKey(t, exp)
		data := slices.Clone(exp[brokenKey].Data)
		data[0] += 1
		exp[brokenKey] = modeltest.Tensor{Shape: exp[brokenKey].Shape, Data: data}
	})
	editExpected(t, extra, func(exp map[string]modeltest.Tensor) {
		exp["logits_mystery"] = exp[firstLogitsKey(t, exp)]
	})
	editJSON(t, filepath.Join(extra, "meta.json"), func(m map[string]any) {
		errs, _ := m["errors"].(map[string]any)
		if errs == nil {
			errs = map[string]any{}
		}
		errs["frobnicate"] = "ValueError: cannot frobnicate"
		m["errors"] = errs
	})
	editJSON(t, filepath.Join(alien, "base", "config.json"), func(m map[string]any) {
		m["model_type"] = "unheard_of"
	})

	rep, err := RunFixtures(context.Background(), root, []string{"cpu"}, FixtureOptions{})
	require.NoError(t, err)
	var names []string
	for _, c := range rep.Cases {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"alien", "deeper/extra", "deeper/nest/broken", "renamed"}, names)

	assert.Empty(t, failures(rep, "renamed"), "the intact copy passes")
	assert.Greater(t, len(rep.Results), 20, "the intact copy alone has many checks")

	bf := failures(rep, "deeper/nest/broken")
	require.Contains(t, bf, brokenKey)
	assert.Contains(t, bf[brokenKey], "exceeds")
	// The same reference also judges the adapter merged in place and
	// unmerged again, so exactly those three rows fail.
	for _, state := range []string{"merged in place", "unmerged"} {
		assert.Contains(t, bf[brokenKey+" ("+state+")"], "exceeds")
	}
	assert.Len(t, bf, 3, "only the rows judged by the broken key fail: %v", bf)

	ef := failures(rep, "deeper/extra")
	assert.Contains(t, ef["logits_mystery"], "not checked")
	assert.Contains(t, ef["refuses frobnicate"], "not checked")
	assert.Len(t, ef, 2, "%v", ef)

	af := failures(rep, "alien")
	require.Contains(t, af, "load base model")
	assert.Contains(t, af["load base model"], `model_type "unheard_of" is not supported`)

	assert.Equal(t, 3+2+1, rep.Failed())
	require.Len(t, rep.Devices, 1)
	assert.Equal(t, "cpu", rep.Devices[0].Info.Spec)
}

// TestRunFixturesFilter runs only the cases a filter matches.
func TestRunFixturesFilter(t *testing.T) {
	src := sourceCase(t)
	root := t.TempDir()
	copyTree(t, src.Dir, filepath.Join(root, "one"))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "two", "base"), 0o755))
	// A case whose files are unreadable: with the filter it is never read.
	require.NoError(t, os.WriteFile(filepath.Join(root, "two", "base", "config.json"), []byte(`{`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "two", "meta.json"), []byte(`{`), 0o644))

	rep, err := RunFixtures(context.Background(), root, []string{"cpu"}, FixtureOptions{Filter: "^one$"})
	require.NoError(t, err)
	require.Len(t, rep.Cases, 1)
	assert.Equal(t, "one", rep.Cases[0].Name)
	assert.Zero(t, rep.Failed())

	rep, err = RunFixtures(context.Background(), root, []string{"cpu"}, FixtureOptions{Filter: "^two$"})
	require.NoError(t, err)
	tf := failures(rep, "two")
	require.Contains(t, tf, "read fixture")
	assert.Contains(t, tf["read fixture"], "meta.json")
}

// TestRunFixturesErrors covers the errors about running the suite itself.
func TestRunFixturesErrors(t *testing.T) {
	empty := t.TempDir()
	notDir := filepath.Join(empty, "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	for _, tc := range []struct {
		name, dir string
		devices   []string
		filter    string
		want      string
	}{
		{"missing dir", filepath.Join(empty, "nope"), []string{"cpu"}, "", "no such file"},
		{"not a dir", notDir, []string{"cpu"}, "", "not a directory"},
		{"no case", empty, []string{"cpu"}, "", "no fixture case"},
		{"bad filter", empty, []string{"cpu"}, "(", "case filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunFixtures(context.Background(), tc.dir, tc.devices, FixtureOptions{Filter: tc.filter})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("unknown device", func(t *testing.T) {
		src := sourceCase(t)
		root := t.TempDir()
		copyTree(t, src.Dir, filepath.Join(root, "c"))
		_, err := RunFixtures(context.Background(), root, []string{"tpu:3"}, FixtureOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `open device "tpu:3"`)
	})
	t.Run("cancelled", func(t *testing.T) {
		src := sourceCase(t)
		root := t.TempDir()
		copyTree(t, src.Dir, filepath.Join(root, "c"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := RunFixtures(ctx, root, []string{"cpu"}, FixtureOptions{})
		require.ErrorIs(t, err, context.Canceled)
	})
}
