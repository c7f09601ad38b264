package model

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// logitsOf runs Forward without gradients and downloads the logits.
func logitsOf(t *testing.T, m *Model, in *Inputs) ([]float32, []int) {
	t.Helper()
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	out := m.Forward(g, in)
	require.NoError(t, g.Err())
	v, err := m.Backend().ToFloat32(out.T)
	require.NoError(t, err)
	return v, slices.Clone(out.Shape())
}

// lossOf runs Loss without gradients and returns its value.
func lossOf(t *testing.T, m *Model, in *Inputs) float64 {
	t.Helper()
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	out := m.Loss(g, in)
	require.NoError(t, g.Err())
	v, err := m.Backend().ToFloat32(out.T)
	require.NoError(t, err)
	require.Len(t, v, 1)
	return float64(v[0])
}

// TestFixtureParity loads every case's base and merged_a checkpoints and
// compares their logits with the reference, checks the loss against the
// first training step's (the adapter starts as ones, i.e. the base model),
// and checks that Save then Load reproduces the weights and logits.
func TestFixtureParity(t *testing.T) {
	b := testBackend(t)
	ctx := context.Background()
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			exp, err := modeltest.ReadTensors(filepath.Join(c.Dir, "expected.safetensors"))
			require.NoError(t, err)
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)

			m, err := Load(ctx, filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			task := m.Config().TaskType
			got, shape := logitsOf(t, m, in)
			modeltest.AssertLogits(t, "base", got, shape, exp["logits_base_f64"], in.AttentionMask, task)

			if len(c.Meta.Train.Losses) > 0 {
				want := c.Meta.Train.Losses[0]
				loss := lossOf(t, m, in)
				assert.InDelta(t, want, loss, 1e-4*math.Max(1, math.Abs(want)), "loss vs meta.json train.losses[0]")
			}

			dir := t.TempDir()
			require.NoError(t, m.Save(dir))
			back, err := Load(ctx, dir, b)
			require.NoError(t, err)
			defer back.Free()
			require.Equal(t, len(m.Params()), len(back.Params()))
			for i, p := range m.Params() {
				q := back.Params()[i]
				require.Equal(t, p.Name, q.Name)
				a, err := b.ToFloat32(p.T)
				require.NoError(t, err)
				z, err := b.ToFloat32(q.T)
				require.NoError(t, err)
				require.Equal(t, a, z, p.Name)
			}
			again, _ := logitsOf(t, back, in)
			assert.Equal(t, got, again, "logits after Save and Load")

			if ref, ok := exp["logits_merged_a"]; ok {
				merged, err := Load(ctx, filepath.Join(c.Dir, "merged_a"), b)
				require.NoError(t, err)
				defer merged.Free()
				got, shape := logitsOf(t, merged, in)
				modeltest.AssertLogits(t, "merged_a", got, shape, ref, in.AttentionMask, task)
			}
		})
	}
}
