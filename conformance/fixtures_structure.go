package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/fixture"
	"github.com/ia3/ia3/model/safetensors"
)

// matchingRow is one entry of a case's matching.json: an IA3Config and
// what PEFT made of it, or the error it raised.
type matchingRow struct {
	Config    json.RawMessage `json:"config"`
	Layers    []fixture.Layer `json:"layers"`
	SavedKeys []string        `json:"saved_keys"`
	Trainable []string        `json:"trainable"`
	Error     string          `json:"error"`
}

// checkLayersDefault attaches adapters a and b with the default config to
// the structure of the base model and compares the layer table with
// meta.json's layers_default.
func (r *caseRun) checkLayersDefault(mc *model.Config) {
	if len(r.c.meta.LayersDefault) == 0 {
		return
	}
	const check = "layers_default"
	sm, err := model.New(mc, nil)
	if err != nil {
		r.row(check, 0, 0, fmt.Errorf("build structure: %w", err))
		return
	}
	cfg := ia3.NewConfig()
	cfg.TaskType = r.c.task
	pm, err := ia3.New(sm, cfg, "a")
	if err == nil {
		err = pm.AddAdapter("b", cfg)
	}
	if err != nil {
		r.row(check, 0, 0, err)
		return
	}
	r.row(check, 0, 0, diffLayers(r.c.meta.LayersDefault, layerTable(pm)))
}

// checkMatching builds every matching.json config on a zero-weight model
// of the case's architecture and compares the layers, feed-forward flags,
// vector shapes, trainable names and the keys a real save writes; or
// checks that we refuse the configs PEFT refused, with its message.
func (r *caseRun) checkMatching(mc *model.Config) {
	path := r.c.path("matching.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		r.row("matching", 0, 0, err)
		return
	}
	var rows []matchingRow
	if err := json.Unmarshal(data, &rows); err != nil {
		r.row("matching", 0, 0, fmt.Errorf("%s: %w", path, err))
		return
	}
	for i, row := range rows {
		check := fmt.Sprintf("matching[%d]", i)
		r.guard(check, func() {
			err := r.matchRow(mc, row, filepath.Join(r.scratch, check))
			if err != nil {
				err = fmt.Errorf("config %s: %w", row.Config, err)
			}
			r.row(check, 0, 0, err)
		})
	}
}

// matchRow checks one matching.json entry, saving the adapter under dir.
func (r *caseRun) matchRow(mc *model.Config, row matchingRow, dir string) error {
	cfg, err := matchingConfig(row.Config, r.c.task)
	if err != nil && row.Error == "" {
		return err
	}
	var pm *ia3.Model
	var base *model.Model
	if err == nil {
		if base, err = model.New(mc, r.b); err != nil {
			return fmt.Errorf("build zero-weight model: %w", err)
		}
		defer base.Free()
		pm, err = ia3.New(base, cfg, ia3.DefaultAdapter)
	}
	if row.Error != "" {
		if err == nil {
			return fmt.Errorf("PEFT refused this config (%s) but we did not", row.Error)
		}
		// PEFT's message without its Python exception class.
		_, msg, _ := strings.Cut(row.Error, ": ")
		if !strings.Contains(err.Error(), msg) {
			return fmt.Errorf("refused, but our error %q does not say PEFT's %q", err, msg)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	if err := diffLayers(row.Layers, layerTable(pm)); err != nil {
		errs = append(errs, err)
	}
	if got := trainableNames(pm); !slices.Equal(got, row.Trainable) {
		errs = append(errs, fmt.Errorf("trainable %q, PEFT %q", got, row.Trainable))
	}
	if err := pm.SavePretrained(dir); err != nil {
		return errors.Join(append(errs, fmt.Errorf("save: %w", err))...)
	}
	got, err := savedKeys(filepath.Join(dir, ia3.WeightsFile))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if !slices.Equal(got, row.SavedKeys) {
		errs = append(errs, fmt.Errorf("saved keys %q, PEFT %q", got, row.SavedKeys))
	}
	return errors.Join(errs...)
}

// matchingConfig builds the IA3Config PEFT built for a matching row: the
// row's keys over IA3Config(task_type=task).
func matchingConfig(raw json.RawMessage, task string) (*ia3.Config, error) {
	fields := map[string]json.RawMessage{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("matching config %s: %w", raw, err)
		}
	}
	fields["peft_type"] = json.RawMessage(`"IA3"`)
	tt, err := json.Marshal(task)
	if err != nil {
		return nil, err
	}
	fields["task_type"] = tt
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return ia3.ParseConfig(data)
}

// layerTable renders the attached layers as the fixtures' layer table.
func layerTable(pm *ia3.Model) []fixture.Layer {
	var out []fixture.Layer
	for _, l := range pm.Layers() {
		row := fixture.Layer{
			Name: "base_model.model." + l.Name, FeedForward: l.Feedforward, FanInFanOut: l.Linear.FanInFanOut,
			InFeatures: l.Linear.In, OutFeatures: l.Linear.Out, Vectors: map[string][]int{},
		}
		for _, a := range l.Adapters() {
			row.Vectors[a] = l.VectorShape()
		}
		out = append(out, row)
	}
	return out
}

// diffLayers describes the first difference between two layer tables.
func diffLayers(want, got []fixture.Layer) error {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Errorf("%d layers, PEFT %d: missing %s", len(got), len(want), want[i].Name)
		case i >= len(want):
			return fmt.Errorf("%d layers, PEFT %d: extra %s", len(got), len(want), got[i].Name)
		case !reflect.DeepEqual(want[i], got[i]):
			return fmt.Errorf("layer %d: ours %+v, PEFT %+v", i, got[i], want[i])
		}
	}
	return nil
}

// trainableNames lists the trainable parameters' PEFT names, sorted.
func trainableNames(pm *ia3.Model) []string {
	var out []string
	for _, p := range pm.TrainableParams() {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

// savedKeys lists the tensor names of a safetensors file, sorted.
func savedKeys(path string) ([]string, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := f.Names()
	slices.Sort(names)
	return names, nil
}
