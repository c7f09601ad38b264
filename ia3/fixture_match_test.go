package ia3

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// matchingEntry is one row of a fixture's matching.json.
type matchingEntry struct {
	Config    json.RawMessage   `json:"config"`
	Layers    []modeltest.Layer `json:"layers"`
	SavedKeys []string          `json:"saved_keys"`
	Trainable []string          `json:"trainable"`
	Error     string            `json:"error"`
}

// fixtureConfig builds the IA3Config PEFT built for a matching row: the
// row's keys over IA3Config(task_type=...).
func fixtureConfig(t *testing.T, raw json.RawMessage, task string) (*Config, error) {
	t.Helper()
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &fields))
	fields["peft_type"] = json.RawMessage(`"IA3"`)
	tt, _ := json.Marshal(task)
	fields["task_type"] = tt
	data, err := json.Marshal(fields)
	require.NoError(t, err)
	return ParseConfig(data)
}

// structureOf builds a fresh structure-only model of a fixture case.
func structureOf(t *testing.T, caseDir string) *model.Model {
	t.Helper()
	mc, err := model.LoadConfig(filepath.Join(caseDir, "base"))
	require.NoError(t, err)
	m, err := model.New(mc, nil)
	require.NoError(t, err)
	return m
}

// layerTable renders the attached layers as the fixtures' layer table.
func layerTable(m *Model) []modeltest.Layer {
	var out []modeltest.Layer
	for _, l := range m.Layers() {
		row := modeltest.Layer{
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

func trainableNames(m *Model) []string {
	var out []string
	for _, p := range m.TrainableParams() {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

// TestFixtureMatching checks every matching.json row of every fixture case:
// the same layers (in module order), feed-forward flags, vector shapes,
// saved keys and trainable names as PEFT, or PEFT's error.
func TestFixtureMatching(t *testing.T) {
	for _, c := range modeltest.Cases(t) {
		data, err := os.ReadFile(filepath.Join(c.Dir, "matching.json"))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		var rows []matchingEntry
		require.NoError(t, json.Unmarshal(data, &rows))
		for i, row := range rows {
			t.Run(fmt.Sprintf("%s/%d", c.Name, i), func(t *testing.T) {
				t.Logf("config %s", row.Config)
				base := structureOf(t, c.Dir)
				cfg, err := fixtureConfig(t, row.Config, c.Meta.TaskType)
				var m *Model
				if err == nil {
					m, err = New(base, cfg, DefaultAdapter)
				}
				if row.Error != "" {
					require.Error(t, err, "PEFT refused this config: %s", row.Error)
					_, msg, _ := strings.Cut(row.Error, ": ")
					assert.Contains(t, err.Error(), msg)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, row.Layers, layerTable(m))
				assert.Equal(t, row.SavedKeys, m.savedKeys(DefaultAdapter))
				assert.Equal(t, row.Trainable, trainableNames(m))
			})
		}
	}
}

// TestFixtureLayersDefault attaches adapters a and b with default configs
// and compares with meta.json's layers_default.
func TestFixtureLayersDefault(t *testing.T) {
	for _, c := range modeltest.Cases(t) {
		if len(c.Meta.LayersDefault) == 0 {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			cfg := NewConfig()
			cfg.TaskType = c.Meta.TaskType
			m, err := New(structureOf(t, c.Dir), cfg, "a")
			require.NoError(t, err)
			require.NoError(t, m.AddAdapter("b", cfg))
			assert.Equal(t, c.Meta.LayersDefault, layerTable(m))
		})
	}
}
