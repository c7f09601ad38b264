// Package modeltest holds test support shared by the packages that check
// models against the Hugging Face reference fixtures: finding the fixtures,
// listing their cases, and comparing logits under the fixtures' README
// rules (which positions count, and the tolerance).
package modeltest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, found by walking up
// from the working directory.
func ModuleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// PEFTDirs returns the directories holding PEFT parity cases that exist:
// the shared fixtures' peft directory (../shared/fixtures/peft beside the
// module root) and the project's own testdata/fixtures/peft.
func PEFTDirs() []string {
	root, ok := ModuleRoot()
	if !ok {
		return nil
	}
	var out []string
	for _, d := range []string{
		filepath.Join(filepath.Dir(root), "shared", "fixtures", "peft"),
		filepath.Join(root, "testdata", "fixtures", "peft"),
	} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// Case is one PEFT fixture case directory.
type Case struct {
	Name string // directory name, e.g. "gpt2"
	Dir  string // absolute path
	Meta Meta
}

// Meta is the part of a case's meta.json that model tests read.
type Meta struct {
	Name     string         `json:"name"`
	TaskType string         `json:"task_type"`
	Errors   map[string]any `json:"errors"`
	Train    struct {
		Losses []float64 `json:"losses"`
	} `json:"train"`
	LayersDefault []Layer `json:"layers_default"`
}

// Layer is one row of an IA3 layer table (meta.json layers_default, or
// matching.json layers).
type Layer struct {
	Name        string           `json:"name"`
	FeedForward bool             `json:"feedforward"`
	FanInFanOut bool             `json:"fan_in_fan_out"`
	InFeatures  int              `json:"in_features"`
	OutFeatures int              `json:"out_features"`
	Vectors     map[string][]int `json:"vectors"`
}

// Cases lists every case under PEFTDirs: each directory with a
// base/config.json, found by walking (tokenizers are skipped). The test is
// skipped when there are no fixtures.
func Cases(t testing.TB) []Case {
	t.Helper()
	var cases []Case
	for _, dir := range PEFTDirs() {
		cs, err := ListCases(dir)
		if err != nil {
			t.Fatalf("list fixture cases: %v", err)
		}
		cases = append(cases, cs...)
	}
	if len(cases) == 0 {
		t.Skip("no PEFT fixture cases (../shared/fixtures/peft, testdata/fixtures/peft)")
	}
	return cases
}

// ListCases walks root for case directories (those holding
// base/config.json), sorted by name.
func ListCases(root string) ([]Case, error) {
	var out []Case
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == "tokenizers" {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "base", "config.json")); err != nil {
			return nil
		}
		c := Case{Name: filepath.Base(path), Dir: path}
		data, err := os.ReadFile(filepath.Join(path, "meta.json"))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(data, &c.Meta); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(path, "meta.json"), err)
			}
		}
		out = append(out, c)
		return filepath.SkipDir
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}
