package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// TestSchedules checks each schedule against transformers' formulas,
// computed by hand for base 1, 2 warmup steps and 10 steps.
func TestSchedules(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []float64 // LR(0..10)
	}{
		{ScheduleConstant, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{ScheduleConstantWarmup, []float64{0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{ScheduleLinear, []float64{0, 0.5, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8, 0}},
		{ScheduleCosine, []float64{0, 0.5, 1, 0.5 * (1 + math.Cos(math.Pi/8)), 0.5 * (1 + math.Cos(2*math.Pi/8)),
			0.5 * (1 + math.Cos(3*math.Pi/8)), 0.5, 0.5 * (1 + math.Cos(5*math.Pi/8)), 0.5 * (1 + math.Cos(6*math.Pi/8)),
			0.5 * (1 + math.Cos(7*math.Pi/8)), 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchedule(tc.name, 1, 2, 10)
			require.NoError(t, err)
			for step, want := range tc.want {
				assert.InDelta(t, want, s.LR(step), 1e-12, "step %d", step)
			}
		})
	}
	_, err := NewSchedule("polynomial", 1, 0, 10)
	require.ErrorContains(t, err, `"polynomial" is not supported`)
	_, err = NewSchedule("", 0, 0, 10)
	require.ErrorContains(t, err, "learning rate 0 must be positive")
}

// TestAdamWMatchesTorch checks two optimiser steps against torch's
// AdamW update computed by hand in float64.
func TestAdamWMatchesTorch(t *testing.T) {
	b := openCPU(t)
	p0 := []float32{1, -0.5, 2}
	grads := [][]float32{{0.1, -0.2, 0.3}, {-0.05, 0.4, 0.0}}
	pt, err := b.FromFloat32(p0, 3)
	require.NoError(t, err)
	p := &nn.Param{Name: "p", T: pt, Trainable: true}
	t.Cleanup(func() { b.Free(p.T) })
	hp := AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	opt, err := NewOptimizer(b, []ia3.NamedParam{{Name: "p", Param: p}}, hp)
	require.NoError(t, err)
	t.Cleanup(opt.Free)
	const lr = 0.1
	want := []float64{1, -0.5, 2}
	m, v := make([]float64, 3), make([]float64, 3)
	for step, g := range grads {
		gt, err := b.FromFloat32(g, 3)
		require.NoError(t, err)
		require.NoError(t, opt.Step([]backend.Tensor{gt}, lr))
		b.Free(gt)
		k := float64(step + 1)
		for i := range want {
			want[i] *= 1 - lr*hp.WeightDecay
			m[i] = hp.Beta1*m[i] + (1-hp.Beta1)*float64(g[i])
			v[i] = hp.Beta2*v[i] + (1-hp.Beta2)*float64(g[i])*float64(g[i])
			mh := m[i] / (1 - math.Pow(hp.Beta1, k))
			vh := v[i] / (1 - math.Pow(hp.Beta2, k))
			want[i] -= lr * mh / (math.Sqrt(vh) + hp.Eps)
		}
	}
	got, err := b.ToFloat32(p.T)
	require.NoError(t, err)
	for i := range want {
		assert.InDelta(t, want[i], got[i], 1e-6, "element %d", i)
	}
	assert.Equal(t, 2, opt.Steps())

	// The state round-trips through a file.
	state, err := opt.State()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), OptimizerFile)
	require.NoError(t, safetensors.Write(path, state, nil))
	opt2, err := NewOptimizer(b, []ia3.NamedParam{{Name: "p", Param: p}}, hp)
	require.NoError(t, err)
	t.Cleanup(opt2.Free)
	require.NoError(t, opt2.LoadState(path, 2))
	for i := range opt.m {
		a, _ := b.ToFloat32(opt.m[i])
		c, _ := b.ToFloat32(opt2.m[i])
		assert.Equal(t, a, c)
		a, _ = b.ToFloat32(opt.v[i])
		c, _ = b.ToFloat32(opt2.v[i])
		assert.Equal(t, a, c)
	}
	assert.Equal(t, 2, opt2.Steps())

	_, err = NewOptimizer(b, []ia3.NamedParam{{Name: "p", Param: p}}, AdamW{Beta1: 1, Beta2: 0.999})
	require.ErrorContains(t, err, "beta1 1 must be in [0, 1)")
}

// TestNaNLossNamesStepAndCheckpoint diverges on purpose (a huge learning
// rate) and checks the error names the step and the last checkpoint.
func TestNaNLossNamesStepAndCheckpoint(t *testing.T) {
	out := t.TempDir()
	_, err := Run(context.Background(), Options{ModelDir: modelDir(t, "gpt2"), TrainFile: writeJSONL(t, textLines(4)...),
		OutDir: out, Backend: openCPU(t), BatchSize: 4, MaxSteps: 5, LR: 1e30, CheckpointEvery: 1, NoPlot: true})
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrNonFiniteLoss), "err = %v", err)
	assert.Contains(t, err.Error(), "train step 2:")
	assert.Contains(t, err.Error(), "last good checkpoint: "+filepath.Join(out, "checkpoint-1"))
}
