package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/fixture"
)

// fixtureCase is one case directory of the PEFT fixture layout (see the
// fixtures' README), with the files every device's run reads.
type fixtureCase struct {
	name string // path relative to the walked root, "/"-separated
	dir  string

	meta     caseMeta
	expected map[string]fixture.Tensor // expected.safetensors; nil when absent
	inputs   *model.Inputs
	task     string // meta.json task_type, else the base config's
}

// caseMeta is the part of meta.json the suite checks.
type caseMeta struct {
	TaskType string `json:"task_type"`
	// Errors maps an operation to the message PEFT raised when refusing it.
	Errors        map[string]string `json:"errors"`
	LayersDefault []fixture.Layer   `json:"layers_default"`
	Weighted      *weightedSpec     `json:"weighted"`
	Train         *trainSpec        `json:"train"`
}

// weightedSpec is meta.json's add_weighted_adapter call.
type weightedSpec struct {
	Adapters []string  `json:"adapters"`
	Weights  []float64 `json:"weights"`
	Name     string    `json:"name"`
}

// trainSpec is meta.json's training trajectory.
type trainSpec struct {
	Optimizer   string    `json:"optimizer"`
	LR          float64   `json:"lr"`
	Betas       []float64 `json:"betas"`
	Eps         float64   `json:"eps"`
	WeightDecay float64   `json:"weight_decay"`
	Schedule    string    `json:"lr_schedule"`
	GradClip    *float64  `json:"grad_clip"`
	Steps       int       `json:"steps"`
	Losses      []float64 `json:"losses"`
	Trainable   []string  `json:"trainable"`
}

// isFixtureCase reports whether dir holds a case: base/config.json plus
// expected.safetensors or meta.json.
func isFixtureCase(dir string) bool {
	if !fileExists(filepath.Join(dir, "base", "config.json")) {
		return false
	}
	return fileExists(filepath.Join(dir, "expected.safetensors")) || fileExists(filepath.Join(dir, "meta.json"))
}

// findFixtureCases walks root and returns every case directory in it (root
// itself may be one), sorted by path. Cases do not nest: the walk does not
// enter a case.
func findFixtureCases(root string) ([]FixtureCase, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("conformance: fixtures: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("conformance: fixtures: %s is not a directory", root)
	}
	var out []FixtureCase
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || !isFixtureCase(path) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if name == "." {
			name = filepath.Base(path)
		}
		out = append(out, FixtureCase{Name: name, Dir: path})
		return filepath.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("conformance: walking fixtures %s: %w", root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readFixtureCase reads a case's meta.json, expected.safetensors and
// inputs.safetensors. Missing meta.json or expected.safetensors leave
// their checks out; inputs are needed as soon as there is anything to run.
func readFixtureCase(fc FixtureCase) (*fixtureCase, error) {
	c := &fixtureCase{name: fc.Name, dir: fc.Dir}
	metaPath := filepath.Join(fc.Dir, "meta.json")
	data, err := os.ReadFile(metaPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &c.meta); err != nil {
			return nil, fmt.Errorf("%s: %w", metaPath, err)
		}
	}
	expPath := filepath.Join(fc.Dir, "expected.safetensors")
	if fileExists(expPath) {
		if c.expected, err = fixture.ReadTensors(expPath); err != nil {
			return nil, fmt.Errorf("%s: %w", expPath, err)
		}
	}
	inPath := filepath.Join(fc.Dir, "inputs.safetensors")
	if c.inputs, err = model.InputsFromSafetensors(inPath); err != nil {
		return nil, fmt.Errorf("%s: %w", inPath, err)
	}
	c.task = c.meta.TaskType
	if c.task == "" {
		// A config we cannot read (an unsupported architecture) leaves the
		// task empty: each device's run reports it as the case's failure.
		if mc, err := model.LoadConfig(filepath.Join(fc.Dir, "base")); err == nil {
			c.task = mc.TaskType
		}
	}
	return c, nil
}

// path joins elements onto the case directory.
func (c *fixtureCase) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
