package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionsDefaultsAndValidation checks the defaults filled in and the
// errors for options that cannot work.
func TestOptionsDefaultsAndValidation(t *testing.T) {
	base := Options{ModelDir: "m", TrainFile: "t.jsonl", OutDir: "o"}
	o, err := base.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "auto", o.Device)
	assert.Equal(t, 1, o.Epochs)
	assert.Equal(t, 8, o.BatchSize)
	assert.Equal(t, 1, o.GradAccum)
	assert.Equal(t, 512, o.MaxLength)
	assert.Equal(t, 3e-3, o.LR)
	assert.Equal(t, ScheduleConstant, o.Schedule)
	assert.Equal(t, AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, o.Optim)
	assert.Equal(t, 0, o.warmup(100))
	o.WarmupRatio = 0.25
	assert.Equal(t, 25, o.warmup(100))

	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no model", func(o *Options) { o.ModelDir = "" }, "no model directory"},
		{"no data", func(o *Options) { o.TrainFile = "" }, "no training data file"},
		{"no output", func(o *Options) { o.OutDir = "" }, "no output directory"},
		{"negative batch", func(o *Options) { o.BatchSize = -1 }, "batch size -1"},
		{"both eval sources", func(o *Options) { o.EvalFile, o.EvalFraction = "e.jsonl", 0.1 }, "not both"},
		{"eval fraction 1", func(o *Options) { o.EvalFraction = 1 }, "eval fraction 1 must be in [0, 1)"},
		{"eval interval without data", func(o *Options) { o.EvalEvery = 5 }, "eval interval 5 given without eval data"},
		{"warmup ratio", func(o *Options) { o.WarmupRatio = 2 }, "warmup ratio 2"},
		{"clip", func(o *Options) { o.MaxGradNorm = -1 }, "max grad norm -1"},
		{"beta", func(o *Options) { o.Optim = AdamW{Beta1: 0.9, Beta2: 1.5, Eps: 1e-8} }, "beta2 1.5"},
		{"max length", func(o *Options) { o.MaxLength = 1 }, "max length 1 must be at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := o.withDefaults()
			require.ErrorContains(t, err, tc.want)
		})
	}
}
