package train

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/quant"
)

// TestQuantizedTraining trains the default adapter for the fixture's 5
// AdamW steps on a base quantized to Q8_0 and to NF4, on every device that
// takes quantized weights (the CPU; WebGPU once its kernels report
// QuantizedWeights): the loss falls, and the adapter saved from the
// quantized base is a normal PEFT adapter: loaded on the float32 base it
// gives the same tensors, with the keys, shapes and config PEFT's own
// trained adapter has.
func TestQuantizedTraining(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			if !b.Info().QuantizedWeights {
				t.Skipf("%s does not report QuantizedWeights", b.Info().Spec)
			}
			for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
				c := modeltest.NamedCase(t, name)
				for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
					t.Run(name+"/"+f.String(), func(t *testing.T) { checkQuantizedTraining(t, b, c, f) })
				}
			}
		})
	}
}

func checkQuantizedTraining(t *testing.T, b backend.Backend, c modeltest.Case, f quant.Format) {
	ctx := context.Background()
	spec := readTrainSpec(t, c.Dir)
	base, err := model.LoadWith(ctx, filepath.Join(c.Dir, "base"), b, model.LoadOptions{Quantize: f})
	require.NoError(t, err)
	t.Cleanup(base.Free)
	pm, params, in, s := fixtureStepper(t, b, c, base, spec)
	var losses []float64
	for step := range spec.Steps {
		require.NoError(t, s.accumulate(in), "step %d", step)
		st, err := s.finish(spec.LR)
		require.NoError(t, err, "step %d", step)
		require.False(t, math.IsNaN(st.Loss), "step %d", step)
		losses = append(losses, st.Loss)
	}
	t.Logf("%s %v: losses %.4f (float32 base, PEFT: %.4f)", c.Name, f, losses, spec.Losses)
	assert.Less(t, losses[len(losses)-1], losses[0], "the loss falls on a %v base", f)
	// Every vector moved: gradients reached each through the quantized
	// layers.
	for _, p := range params {
		v, err := b.ToFloat32(p.Param.T)
		require.NoError(t, err)
		moved := false
		for _, x := range v {
			moved = moved || x != 1
		}
		assert.True(t, moved, "%s did not train", p.Name)
	}

	out := t.TempDir()
	require.NoError(t, pm.SavePretrained(out))
	assertSameAdapter(t, filepath.Join(c.Dir, "train", "adapter"), out, math.Inf(1))
	f32, err := model.Load(ctx, filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(f32.Free)
	loaded, err := ia3.FromPretrained(f32, out, ia3.DefaultAdapter, false)
	require.NoError(t, err)
	again := t.TempDir()
	require.NoError(t, loaded.SavePretrained(again))
	assertSameAdapter(t, out, again, 0)
	wc, err := ia3.LoadConfig(out)
	require.NoError(t, err)
	pc, err := ia3.LoadConfig(filepath.Join(c.Dir, "train", "adapter"))
	require.NoError(t, err)
	assert.Equal(t, pc.FanInFanOut, wc.FanInFanOut, "fan_in_fan_out as PEFT writes it for this model")
}
