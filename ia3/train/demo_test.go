package train

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// TestDemo runs the demo briefly on the CPU: the loss falls, the sample
// changes, and the adapter, plot and base model are written and load.
func TestDemo(t *testing.T) {
	out := t.TempDir()
	var bar bytes.Buffer
	res, err := Demo(context.Background(), DemoOptions{Out: out, Steps: 25, Device: "cpu", Progress: &bar})
	require.NoError(t, err)
	t.Logf("loss %.3f → %.3f in %v\nbefore: %q\nafter:  %q", res.LossBefore, res.LossAfter, res.Duration, res.SampleBefore, res.SampleAfter)
	assert.Less(t, res.LossAfter, res.LossBefore-0.5, "the loss should fall clearly")
	assert.NotEqual(t, res.SampleBefore, res.SampleAfter)
	assert.Equal(t, demoNewTokens, utf8.RuneCountInString(res.SampleAfter), "one character per sampled byte")
	assert.Contains(t, bar.String(), "25/25")
	for _, f := range []string{ia3.ConfigFile, ia3.WeightsFile, PlotFile, "base/config.json", "base/model.safetensors", "base/tokenizer.json"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	cfg, err := ia3.LoadConfig(out)
	require.NoError(t, err)
	assert.Equal(t, []string{"lm_head"}, cfg.ModulesToSave)
	// 2 layers × (c_attn's 384 outputs + mlp.c_proj's 512 inputs, a
	// feed-forward layer scaled on its input); lm_head 256 × 128.
	assert.Equal(t, int64(2*(3*128+4*128)), res.IA3Params)
	assert.Equal(t, int64(256*128), res.HeadParams)

	// The saved base model and adapter reproduce the trained loss.
	m, err := Evaluate(context.Background(), EvalOptions{ModelDir: res.BaseDir, AdapterDir: out, Device: "cpu",
		DataFile: writeJSONL(t, `{"text": "The small boat left the harbour before the sun was up. The sea was calm and grey"}`)})
	require.NoError(t, err)
	assert.Less(t, m.Loss, res.LossBefore)
	mc, err := model.LoadConfig(res.BaseDir)
	require.NoError(t, err)
	assert.Equal(t, 256, mc.VocabSize)
}
