package model

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// TestFusedAttentionMatchesComposed trains every decoderCases variant (GQA
// and MQA, sliding windows, Gemma 2's soft-cap, ALiBi biases) one step
// with every Linear weight trainable, once with the fused Attention op and once
// with the composed MatMul/Softmax/MatMul path, on every backend: the loss
// and every gradient agree within float32 rounding. The batch's second row
// is left-padded, so its first query sees no key (a uniform row).
func TestFusedAttentionMatchesComposed(t *testing.T) {
	in := &Inputs{Batch: 2, Seq: 7, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 0, 0, 2, 30, 11, 5, 6},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1},
		Labels:        []int32{1, 7, 3, 9, 22, 13, 4, -100, -100, 2, 30, 11, 5, 6}}
	forEachDecoder(t, 11, func(t *testing.T, b backend.Backend, m *Model) {
		for _, nm := range m.Modules() {
			if l, ok := nm.Module.(*nn.Linear); ok {
				l.Weight.Trainable = true
			}
		}
		defer func() {
			for _, p := range m.Params() {
				p.Trainable = false
			}
		}()
		run := func(mode string) (float32, [][]float32) {
			t.Setenv(AttentionEnv, mode)
			g := nn.NewGraph(b, true)
			defer g.Release()
			loss := m.Loss(g, in)
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(loss))
			l, err := b.ToFloat32(loss.T)
			require.NoError(t, err)
			var grads [][]float32
			for _, p := range m.Params() {
				gr := g.ParamGrad(p)
				if gr == nil {
					grads = append(grads, nil)
					continue
				}
				v, err := b.ToFloat32(gr)
				require.NoError(t, err)
				grads = append(grads, v)
			}
			return l[0], grads
		}
		wantLoss, want := run("composed")
		gotLoss, got := run("fused")
		require.InDelta(t, wantLoss, gotLoss, 1e-5*max(1, float64(wantLoss)))
		for i, p := range m.Params() {
			require.Equal(t, want[i] == nil, got[i] == nil, p.Name)
			if want[i] == nil {
				continue
			}
			scale := max(maxAbsOf(want[i]), 1e-3)
			require.LessOrEqual(t, maxAbsDiff(want[i], got[i])/scale, 2e-4, "%s: gradient differs", p.Name)
		}
	})
}

func TestAttentionEnvRefusesUnknownModes(t *testing.T) {
	t.Setenv(AttentionEnv, "flash")
	b := testBackend(t)
	m, err := NewRandom(tinyDecoder(t, "llama", nil), b, 1)
	require.NoError(t, err)
	defer m.Free()
	g := nn.NewGraph(b, false)
	defer g.Release()
	m.Forward(g, &Inputs{Batch: 1, Seq: 2, InputIDs: []int32{1, 2}})
	require.ErrorContains(t, g.Err(), `IA3_ATTENTION="flash": want fused or composed`)
}
