package model

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// joinedRun is one sequence of decodeJoined: its prompt, the step at which
// it joins the batch, and its sampling options.
type joinedRun struct {
	prompt []int32
	start  int
	sample SampleOptions
}

// decodeJoined decodes runs n tokens each through one row cache that
// sequences join (prefilled together when they start at the same step)
// and leave when done, as a continuous-batching server does.
func decodeJoined(t *testing.T, m *Model, runs []joinedRun, n int) [][]int32 {
	t.Helper()
	ctx := context.Background()
	c, err := m.NewRowCache()
	require.NoError(t, err)
	defer c.Free()
	out := make([][]int32, len(runs))
	samplers := make([]*Sampler, len(runs))
	var rows []int // run index of each cache row
	pad := m.PadID(nil)
	V := m.Config().VocabSize
	for step := 0; ; step++ {
		if len(rows) > 0 {
			in := &Inputs{Batch: len(rows), Seq: 1, InputIDs: make([]int32, len(rows)), PositionIDs: c.NextPositions()}
			for i, r := range rows {
				in.InputIDs[i] = out[r][len(out[r])-1]
			}
			logits, err := m.StepLogits(ctx, in, c, nil)
			require.NoError(t, err)
			for i, r := range rows {
				tok, err := samplers[r].Next(logits[i*V : (i+1)*V])
				require.NoError(t, err)
				out[r] = append(out[r], tok)
			}
		}
		var joining []int
		var prompts [][]int32
		for r, run := range runs {
			if run.start == step {
				joining = append(joining, r)
				prompts = append(prompts, run.prompt)
				samplers[r], err = NewSampler(run.sample)
				require.NoError(t, err)
			}
		}
		if len(joining) > 0 {
			nc, err := m.NewCache(len(joining))
			require.NoError(t, err)
			logits, err := m.StepLogits(ctx, PrefillInputs(prompts, pad), nc, nil)
			require.NoError(t, err)
			for i, r := range joining {
				tok, err := samplers[r].Next(logits[i*V : (i+1)*V])
				require.NoError(t, err)
				out[r] = append(out[r], tok)
			}
			require.NoError(t, c.AppendRows(nc))
			assert.Equal(t, 0, nc.Rows(), "the joined cache is emptied")
			rows = append(rows, joining...)
		}
		var keep []int
		var left []int
		for i, r := range rows {
			if len(out[r]) < n {
				keep = append(keep, i)
				left = append(left, r)
			}
		}
		require.NoError(t, c.KeepRows(keep))
		rows = left
		require.Equal(t, len(rows), c.Rows())
		if len(rows) == 0 && step > runs[len(runs)-1].start {
			return out
		}
	}
}

// TestRowsJoinAndLeave checks, on every causal fixture model, that
// sequences joining a running batch at different steps, with prompts of
// different lengths, and leaving when done, get exactly the tokens
// Generate gives each alone, greedy and sampled with a seed.
func TestRowsJoinAndLeave(t *testing.T) {
	const n = 5
	sampled := SampleOptions{Temperature: 0.9, TopK: 50, TopP: 0.95, Seed: 7}
	runs := []joinedRun{
		{prompt: []int32{17, 42, 99}, start: 0},
		{prompt: []int32{5, 6, 7, 8, 9, 10, 11, 12}, start: 2, sample: sampled},
		{prompt: []int32{200}, start: 2},
		{prompt: []int32{3, 1, 4, 1, 5}, start: 4, sample: SampleOptions{Temperature: 1.3, Seed: 99}},
		{prompt: []int32{9, 9}, start: 9},
	}
	for _, c := range generativeCases(t) {
		if c.Meta.TaskType != TaskCausalLM {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m := loadCase(t, c)
			got := decodeJoined(t, m, runs, n)
			for r, run := range runs {
				want, err := m.Generate(context.Background(), [][]int32{run.prompt}, GenerateOptions{MaxNewTokens: n, EOS: []int32{},
					Temperature: run.sample.Temperature, TopK: run.sample.TopK, TopP: run.sample.TopP, Seed: run.sample.Seed})
				require.NoError(t, err)
				assert.Equal(t, want[0], got[r], "run %d", r)
			}
		})
	}
}

// TestRowCacheErrors checks the refused row operations.
func TestRowCacheErrors(t *testing.T) {
	for _, c := range generativeCases(t) {
		m := loadCase(t, c)
		if c.Meta.TaskType == TaskSeq2SeqLM {
			_, err := m.NewRowCache()
			assert.ErrorContains(t, err, "not a causal LM", c.Name)
			continue
		}
		rc, err := m.NewRowCache()
		require.NoError(t, err)
		assert.ErrorContains(t, rc.KeepRows([]int{0}), "want increasing rows")
		assert.ErrorContains(t, rc.AppendRows(rc), "need another cache")
		two, err := m.NewCache(2)
		require.NoError(t, err)
		assert.ErrorContains(t, rc.AppendRows(two), "hold no tokens")
		_, err = NewSampler(SampleOptions{Temperature: -1})
		assert.ErrorContains(t, err, "want temperature ≥ 0")
		_, err = m.StepLogits(context.Background(), &Inputs{Batch: 1, Seq: 1, InputIDs: []int32{1}}, rc, nil)
		assert.ErrorContains(t, err, "same rows")
		return
	}
}

// TestLastOnly checks that Inputs.LastOnly gives each row's last-position
// logits of the full forward pass, shaped [B, 1, V].
func TestLastOnly(t *testing.T) {
	for _, c := range generativeCases(t) {
		if c.Meta.TaskType != TaskCausalLM {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m := loadCase(t, c)
			in := PrefillInputs([][]int32{{17, 42, 99, 3}, {5, 6}}, m.PadID(nil))
			full, shape := logitsOf(t, m, in)
			last := *in
			last.LastOnly = true
			got, gotShape := logitsOf(t, m, &last)
			V := m.Config().VocabSize
			require.Equal(t, []int{2, 1, V}, gotShape)
			T := shape[1]
			for r := range 2 {
				assert.InDeltaSlice(t, full[(r*T+T-1)*V:(r*T+T)*V], got[r*V:(r+1)*V], 1e-5, "row %d", r)
			}
		})
	}
}
