package ia3

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// parityCase is one fixture case loaded for logit comparisons.
type parityCase struct {
	t    *testing.T
	b    backend.Backend
	dir  string
	exp  map[string]modeltest.Tensor
	in   *model.Inputs
	task string
}

// forward runs m without gradients, optionally with a per-sample adapter
// list, and returns the logits and their shape.
func (pc *parityCase) forward(m *model.Model, adapters []string) ([]float32, []int, error) {
	g := nn.NewGraph(pc.b, false)
	defer g.Release()
	g.Adapters = adapters
	out := m.Forward(g, pc.in)
	if err := g.Err(); err != nil {
		return nil, nil, err
	}
	v, err := pc.b.ToFloat32(out.T)
	return v, slices.Clone(out.Shape()), err
}

// check compares m's logits with expected key (its _f64 twin where the
// fixture has one), or, when PEFT refused the operation (no key), only
// logs that the key is absent.
func (pc *parityCase) check(label, key string, m *model.Model) {
	t := pc.t
	t.Helper()
	ref, ok := pc.exp[key+"_f64"]
	if !ok {
		if ref, ok = pc.exp[key]; !ok {
			t.Logf("%s: no %s in expected.safetensors", label, key)
			return
		}
	}
	got, shape, err := pc.forward(m, nil)
	require.NoError(t, err, label)
	modeltest.AssertLogits(t, label, got, shape, ref, pc.in.AttentionMask, pc.task)
}

// load reads the case's base model with adapters a and b attached.
func (pc *parityCase) load() (*model.Model, *Model) {
	t := pc.t
	t.Helper()
	base, err := model.Load(context.Background(), filepath.Join(pc.dir, "base"), pc.b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	m, err := FromPretrained(base, filepath.Join(pc.dir, "adapters", "a"), "a", false)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	require.NoError(t, m.LoadAdapter(filepath.Join(pc.dir, "adapters", "b"), "b"))
	return base, m
}

// TestFixtureLogitParity runs every logits_* key of every fixture case
// through this package on the CPU backend: base, a (against a_f64), b,
// a and b active, disabled, weighted w, merged a, merged a+b, unloaded,
// plus a mixed-adapter batch checked row by row against single-adapter
// runs. Operations PEFT refused (meta.json errors) must be refused here.
func TestFixtureLogitParity(t *testing.T) {
	b := cpu(t)
	for _, c := range modeltest.Cases(t) {
		if !fileExistsAt(filepath.Join(c.Dir, "expected.safetensors")) || !fileExistsAt(filepath.Join(c.Dir, "adapters", "a")) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
			require.NoError(t, err)
			in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			pc := &parityCase{t: t, b: b, dir: c.Dir, exp: exp, in: in, task: c.Meta.TaskType}
			base, m := pc.load()

			pc.check("a", "logits_a", base)
			require.NoError(t, m.SetAdapter("b"))
			pc.check("b", "logits_b", base)

			err = m.SetAdapter("a", "b")
			if _, ok := exp["logits_a_and_b_active"]; ok {
				require.NoError(t, err)
				pc.check("a and b active", "logits_a_and_b_active", base)
			} else {
				require.Error(t, err, "PEFT refused: %v", c.Meta.Errors["a_and_b_active"])
			}

			require.NoError(t, m.SetAdapter("a"))
			require.NoError(t, m.WithAdaptersDisabled(func() error {
				pc.check("disabled", "logits_disabled", base)
				pc.check("disabled is base", "logits_base", base)
				return nil
			}))

			err = m.AddWeightedAdapter([]string{"a", "b"}, []float64{0.6, 0.4}, "w")
			if _, ok := exp["logits_weighted_w"]; ok {
				require.NoError(t, err)
				require.NoError(t, m.SetAdapter("w"))
				pc.check("weighted w", "logits_weighted_w", base)
				require.NoError(t, m.DeleteAdapter("w"))
			} else {
				require.Error(t, err, "PEFT refused: %v", c.Meta.Errors["add_weighted_adapter"])
			}
			require.NoError(t, m.SetAdapter("a"))

			pc.checkMixed(base, m)

			if _, ok := exp["logits_merged_a_b"]; ok {
				require.NoError(t, m.Merge(true, "a", "b"))
				pc.check("merged a+b", "logits_merged_a_b", base)
				require.NoError(t, m.Unmerge())
				pc.check("unmerged, a again", "logits_a", base)
			}

			base2, m2 := pc.load()
			_, err = m2.Unload()
			switch _, ok := exp["logits_unloaded"]; {
			case ok:
				require.NoError(t, err)
				pc.check("unloaded", "logits_unloaded", base2)
			case c.Meta.PEFTBug("unload"):
				// PEFT's bug, not a refusal: the unloaded model is the base.
				require.NoError(t, err)
				pc.check("unloaded (PEFT fails: composite head)", "logits_base", base2)
			default:
				require.Error(t, err, "PEFT refused: %v", c.Meta.Errors["unload"])
				pc.check("a after a refused unload", "logits_a", base2)
			}

			merged, err := m.MergeAndUnload(true)
			key := "logits_merged_a"
			if _, ok := exp[key]; !ok {
				if !c.Meta.PEFTBug("merge_and_unload_a") {
					require.Error(t, err, "PEFT refused: %v", c.Meta.Errors["merge_and_unload_a"])
					pc.check("a after a refused merge", "logits_a", base)
					return
				}
				key = "logits_a" // merged with a's head: adapter a's logits
			}
			require.NoError(t, err)
			assert.Same(t, base, merged)
			pc.check("merged a", key, merged)
			require.Error(t, m.SetAdapter("a"), "the ia3 model is unusable after unloading")
		})
	}
}

// checkMixed runs the batch with one adapter per sample and compares each
// sample with the same sample run with that adapter alone. A model with
// modules_to_save refuses the mixed batch.
func (pc *parityCase) checkMixed(base *model.Model, m *Model) {
	t := pc.t
	names := []string{"b", "a"}
	if pc.in.Batch > 2 {
		for len(names) < pc.in.Batch {
			names = append(names, "")
		}
	}
	names = names[:pc.in.Batch]
	mixed, shape, err := pc.forward(base, names)
	if len(m.ModulesToSave()) > 0 {
		require.Error(t, err, "mixed batch with modules_to_save")
		return
	}
	require.NoError(t, err)
	per := len(mixed) / pc.in.Batch
	for s, name := range names {
		if name == "" {
			require.NoError(t, m.DisableAdapterLayers())
		} else {
			require.NoError(t, m.SetAdapter(name))
		}
		alone, _, err := pc.forward(base, nil)
		require.NoError(t, err)
		m.EnableAdapterLayers()
		assert.InDeltaSlice(t, alone[s*per:(s+1)*per], mixed[s*per:(s+1)*per], 1e-5,
			"mixed batch sample %d (%q), logits %v", s, name, shape)
	}
	require.NoError(t, m.SetAdapter("a"))
}
