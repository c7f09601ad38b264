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

// FixturesRoot returns the shared fixtures directory (../shared/fixtures
// beside the directory holding go.mod), found by walking up from the
// working directory. ok is false when there is none.
func FixturesRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			root := filepath.Join(filepath.Dir(dir), "shared", "fixtures")
			if st, err := os.Stat(root); err == nil && st.IsDir() {
				return root, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// PEFTDir returns the fixtures' peft directory, skipping the test when the
// fixtures are absent.
func PEFTDir(t testing.TB) string {
	t.Helper()
	root, ok := FixturesRoot()
	if !ok {
		t.Skip("no ../shared/fixtures beside the module root")
	}
	return filepath.Join(root, "peft")
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

// Cases lists every case under the peft fixtures directory: each directory
// with a base/config.json, found by walking (tokenizers are skipped). The
// test is skipped when there are no fixtures.
func Cases(t testing.TB) []Case {
	t.Helper()
	cases, err := ListCases(PEFTDir(t))
	if err != nil {
		t.Fatalf("list fixture cases: %v", err)
	}
	if len(cases) == 0 {
		t.Skip("no fixture cases")
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
