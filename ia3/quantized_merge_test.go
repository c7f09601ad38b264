package ia3

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/quant"
)

// requantBound is the largest requantization error a merge may add,
// relative to a layer's largest weight: half of the widest gap between
// neighbouring codes, relative to a block's absmax (Q8_0: 1/254; NF4:
// (1 − 0.7230)/2 ≈ 0.139), plus the rounding of the block scale (float16
// for Q8_0, the double-quantized absmax for NF4: under 1 %).
var requantBound = map[quant.Format]float64{quant.Q8_0: 1.0/254 + 0.001, quant.NF4: 0.139 + 0.01}

// TestMergeOnQuantizedBase merges adapter a into a quantized base as PEFT
// does on a bitsandbytes one (dequantize, scale, requantize) for the
// bert, gpt2, llama and t5 fixtures: the merged weights are quantized
// again, the requantization error stays within its bound and is reported,
// and the merged weights are compared with PEFT's float32 merge
// (merged_a), the numbers docs/quantization.md lists.
func TestMergeOnQuantizedBase(t *testing.T) {
	b := cpu(t)
	ctx := context.Background()
	for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				base, err := model.LoadWith(ctx, filepath.Join(c.Dir, "base"), b, model.LoadOptions{Quantize: f})
				require.NoError(t, err)
				t.Cleanup(base.Free)
				m, err := FromPretrained(base, filepath.Join(c.Dir, "adapters", "a"), "a", false)
				require.NoError(t, err)
				targets := map[*nn.Linear]bool{}
				for _, l := range m.layers {
					if l.Linear.Weight.T.DType().IsQuantized() {
						targets[l.Linear] = true
					}
				}
				require.NotEmpty(t, targets)
				merged, err := m.MergeAndUnload(true)
				require.NoError(t, err)
				for l := range targets {
					assert.True(t, l.Weight.T.DType().IsQuantized(), "merged weight quantized again")
				}
				re := m.RequantizationError()
				assert.Equal(t, len(targets), re.Layers)
				assert.Positive(t, re.MaxAbs)
				assert.LessOrEqual(t, re.MaxRel, requantBound[f])

				// Against PEFT's float32 merge of the float32 base: the
				// quantization of the base and the requantization together.
				dir := t.TempDir()
				require.NoError(t, merged.Save(dir))
				ours, err := model.Load(ctx, dir, b)
				require.NoError(t, err)
				defer ours.Free()
				peft, err := model.Load(ctx, filepath.Join(c.Dir, "merged_a"), b)
				require.NoError(t, err)
				defer peft.Free()
				var maxAbs, maxRel float64
				for i, p := range ours.Params() {
					q := peft.Params()[i]
					require.Equal(t, q.Name, p.Name)
					x, err := b.ToFloat32(p.T)
					require.NoError(t, err)
					y, err := b.ToFloat32(q.T)
					require.NoError(t, err)
					var d, w float64
					for k := range x {
						d = math.Max(d, math.Abs(float64(x[k])-float64(y[k])))
						w = math.Max(w, math.Abs(float64(y[k])))
					}
					maxAbs = math.Max(maxAbs, d)
					if w > 0 {
						maxRel = math.Max(maxRel, d/w)
					}
				}
				t.Logf("%s %v merge: requantization max abs %.3g, max rel %.3g over %d layers; vs PEFT's float32 merge max abs %.3g, max rel %.3g",
					name, f, re.MaxAbs, re.MaxRel, re.Layers, maxAbs, maxRel)
				// The base's own quantization error plus the requantization's.
				assert.LessOrEqual(t, maxRel, 2*requantBound[f])
			})
		}
	}
}

// TestModulesToSaveOnQuantizedBase copies a quantized Linear for
// modules_to_save (dequantized, trained in float32) but refuses a quantized
// Conv1D, whose copy would not have PEFT's (in, out) shape.
func TestModulesToSaveOnQuantizedBase(t *testing.T) {
	b := cpu(t)
	ctx := context.Background()
	for _, tc := range []struct {
		fixture, module, err string
	}{
		{"llama", "model.layers.1.mlp.down_proj", ""},
		{"gpt2", "transformer.h.1.mlp.c_proj", "a Conv1D weight of a quantized base cannot be copied"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			c := modeltest.NamedCase(t, tc.fixture)
			base, err := model.LoadWith(ctx, filepath.Join(c.Dir, "base"), b, model.LoadOptions{Quantize: quant.NF4})
			require.NoError(t, err)
			t.Cleanup(base.Free)
			cfg := NewConfig()
			cfg.TaskType = c.Meta.TaskType
			cfg.ModulesToSave = []string{tc.module}
			m, err := New(base, cfg, DefaultAdapter)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			copies := 0
			for _, p := range m.TrainableParams() {
				if strings.Contains(p.Name, tc.module) {
					copies++
					assert.Equal(t, "F32", p.Param.T.DType().String(), p.Name)
				}
			}
			assert.Positive(t, copies, "the modules_to_save copy trains")
		})
	}
}
