package ia3

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestParamCountsStructureOnly: a structure-only model (no storage) counts
// every parameter, embeddings and norms included, from the model's shapes,
// so the counts equal those of the same model with weights; with and
// without a tied modules_to_save head.
func TestParamCountsStructureOnly(t *testing.T) {
	b := cpu(t)
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			mc, err := model.LoadConfig(filepath.Join(c.Dir, "base"))
			require.NoError(t, err)
			for _, saves := range [][]string{nil, {"lm_head"}} {
				cfg := NewConfig()
				cfg.TaskType = mc.TaskType
				if saves != nil && mc.TaskType != TaskCausalLM {
					continue
				}
				cfg.ModulesToSave = saves
				bare, err := model.New(mc, nil)
				require.NoError(t, err)
				sm, err := New(bare, cfg, DefaultAdapter)
				require.NoError(t, err)
				st, sa := sm.ParamCounts()

				full := zeroModel(t, b, c.Dir)
				fm, err := New(full, cfg, DefaultAdapter)
				require.NoError(t, err)
				ft, fa := fm.ParamCounts()
				require.NoError(t, fm.Close())

				assert.Equal(t, ft, st, "trainable, modules_to_save %v", saves)
				assert.Equal(t, fa, sa, "all, modules_to_save %v", saves)
				assert.Equal(t, fa-ft, modelCount(full), "all less trainable is the base, modules_to_save %v", saves)
			}
		})
	}
}
