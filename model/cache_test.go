package model

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// TestKVCacheMatchesFullForward feeds each causal and seq2seq fixture
// model its batch one token at a time through a KV cache and checks every
// step's logits against the full forward pass (padded positions skipped).
func TestKVCacheMatchesFullForward(t *testing.T) {
	b := testBackend(t)
	for _, c := range modeltest.Cases(t) {
		if c.Meta.TaskType == TaskSeqCls {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			full, _ := logitsOf(t, m, in)

			cache, err := m.NewCache(in.Batch)
			require.NoError(t, err)
			defer cache.Free()
			seq2seq := m.Config().TaskType == TaskSeq2SeqLM
			steps, V := in.Seq, m.Config().VocabSize
			if seq2seq {
				steps = in.DecoderSeq
			}
			for s := 0; s < steps; s++ {
				step := *in
				if seq2seq {
					step.DecoderInputIDs, step.DecoderSeq = column(in.DecoderInputIDs, in.Batch, steps, s), 1
				} else {
					step.Seq, step.InputIDs = 1, column(in.InputIDs, in.Batch, steps, s)
					step.AttentionMask = column(in.AttentionMask, in.Batch, steps, s)
				}
				g := nn.NewGraph(b, false)
				out := m.ForwardCached(g, &step, cache)
				require.NoError(t, g.Err())
				got, err := b.ToFloat32(out.T)
				require.NoError(t, err)
				g.Release()
				require.Equal(t, s+1, cache.Len())
				for r := 0; r < in.Batch; r++ {
					if !seq2seq && in.AttentionMask != nil && in.AttentionMask[r*steps+s] == 0 {
						continue
					}
					want := full[(r*steps+s)*V : (r*steps+s+1)*V]
					require.InDeltaSlice(t, want, got[r*V:(r+1)*V], 1e-4, "row %d step %d", r, s)
				}
			}
		})
	}
}

// column returns token s of every row of a [batch, seq] array as [batch, 1].
func column(x []int32, batch, seq, s int) []int32 {
	if x == nil {
		return nil
	}
	out := make([]int32, batch)
	for r := range out {
		out[r] = x[r*seq+s]
	}
	return out
}

// TestLeftPaddedGeneration runs a left-padded batch (positions from the
// mask) through the prompt and two cached steps, and checks the real
// tokens' logits against the same sequence run alone without padding.
func TestLeftPaddedGeneration(t *testing.T) {
	b := testBackend(t)
	for _, name := range []string{"gpt2", "llama", "qwen2"} {
		t.Run(name, func(t *testing.T) {
			c := fixtureCase(t, name)
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			V := m.Config().VocabSize
			tokens := []int32{17, 42, 99, 7, 64}
			alone, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 5, InputIDs: tokens})

			// Row 0 is tokens[:3] after two pads, row 1 is unpadded; then
			// tokens[3] and tokens[4] are fed one at a time.
			prompt := &Inputs{Batch: 2, Seq: 5,
				InputIDs:      []int32{0, 0, 17, 42, 99, 5, 6, 7, 8, 9},
				AttentionMask: []int32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}}
			prompt.PositionIDs = PositionIDsFromMask(prompt.AttentionMask, 2, 5)
			assert.Equal(t, []int32{1, 1, 0, 1, 2, 0, 1, 2, 3, 4}, prompt.PositionIDs)
			cache, err := m.NewCache(2)
			require.NoError(t, err)
			defer cache.Free()
			g := nn.NewGraph(b, false)
			out := m.ForwardCached(g, prompt, cache)
			require.NoError(t, g.Err())
			got, err := b.ToFloat32(out.T)
			require.NoError(t, err)
			g.Release()
			for s := 0; s < 3; s++ {
				require.InDeltaSlice(t, alone[s*V:(s+1)*V], got[(2+s)*V:(3+s)*V], 1e-4, "prompt token %d", s)
			}
			for s := 3; s < 5; s++ {
				step := &Inputs{Batch: 2, Seq: 1, InputIDs: []int32{tokens[s], 1}, PositionIDs: cache.NextPositions()}
				g := nn.NewGraph(b, false)
				out := m.ForwardCached(g, step, cache)
				require.NoError(t, g.Err())
				got, err := b.ToFloat32(out.T)
				require.NoError(t, err)
				g.Release()
				require.InDeltaSlice(t, alone[s*V:(s+1)*V], got[:V], 1e-4, "step token %d", s)
			}
		})
	}
}
