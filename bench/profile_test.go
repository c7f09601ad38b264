package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestProfileSteps profiles training steps of the tiny GPT-2 on the CPU:
// the projections, attention products and softmax appear with the counts
// the model implies, and the shares add up to 100%.
func TestProfileSteps(t *testing.T) {
	cfg, err := NamedShape("tiny-gpt2")
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		skip     bool
		attn     int // 2 layers × 2 steps, the fused Attention op
		backward bool
	}{
		{"train", false, 4, true},
		{"forward", true, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ProfileSteps(context.Background(), cpu(t), cfg,
				Options{Batch: 2, Seq: 8, Steps: 2, Warmup: 1, SkipTrain: tc.skip})
			require.NoError(t, err)
			assert.Equal(t, tc.name, p.Phase)
			assert.Equal(t, 2, p.Steps)
			assert.Greater(t, p.StepS, 0.0)
			assert.LessOrEqual(t, p.Ops.Total().Seconds(), 2*p.StepS, "operations happen inside the steps")
			calls := map[string]int{}
			var percent float64
			for _, r := range p.Ops.Stats() {
				op, _, _ := strings.Cut(r.Op, " ")
				calls[op] += r.Calls
				percent += r.Percent
				assert.InDelta(t, r.TotalMS/float64(r.Calls), r.MeanMS, 1e-9, r.Op)
			}
			assert.InDelta(t, 100, percent, 1e-6)
			assert.Positive(t, calls["Linear"])
			assert.Equal(t, tc.attn, calls["Attention"])
			if tc.backward {
				assert.Equal(t, tc.attn, calls["AttentionBackward"])
				assert.Positive(t, calls["AdamW"])
			} else {
				assert.Zero(t, calls["AttentionBackward"])
			}
		})
	}
}

// TestProfilePassesThrough checks that the decorator changes nothing: two
// training steps give bit-identical losses with and without it, and the
// device behind it stays reachable through Unwrap.
func TestProfilePassesThrough(t *testing.T) {
	b := cpu(t)
	cfg, err := NamedShape("tiny-gpt2")
	require.NoError(t, err)
	losses := func(b backend.Backend) []float32 {
		s, err := NewSession(b, cfg, 2, 8, 7)
		require.NoError(t, err)
		defer s.Close()
		var ls []float32
		for range 2 {
			l, err := s.TrainStep()
			require.NoError(t, err)
			ls = append(ls, l)
		}
		return ls
	}
	pb, prof := Profile(b)
	assert.Equal(t, losses(b), losses(pb))
	assert.Positive(t, prof.Total())
	assert.Same(t, unwrap(b), unwrap(pb))
	assert.Equal(t, memorySource(b), memorySource(pb))
}

// TestProfileShapeClasses checks the names Linear and MatMul calls are
// recorded under.
func TestProfileShapeClasses(t *testing.T) {
	pb, prof := Profile(cpu(t))
	zeros := func(shape ...int) backend.Tensor {
		x, err := pb.Zeros(shape...)
		require.NoError(t, err)
		return x
	}
	_, err := pb.Linear(zeros(2, 3, 4), zeros(5, 4), backend.LinearOptions{})
	require.NoError(t, err)
	_, err = pb.Linear(zeros(6, 4), zeros(4, 5), backend.LinearOptions{FanInFanOut: true})
	require.NoError(t, err)
	_, err = pb.MatMul(zeros(2, 3, 7, 4), zeros(2, 3, 7, 5), backend.MatMulOptions{TransA: true})
	require.NoError(t, err)
	_, err = pb.MatMul(zeros(7, 4), zeros(5, 4), backend.MatMulOptions{TransB: true})
	require.NoError(t, err)
	_, err = pb.MatMul(zeros(7, 4), zeros(5, 4), backend.MatMulOptions{})
	require.Error(t, err, "K mismatch")
	calls := map[string]int{}
	for _, r := range prof.Stats() {
		calls[r.Op] = r.Calls
	}
	assert.Equal(t, map[string]int{
		"Zeros":               10, // two operands per call
		"Linear 6×4→5":        2,
		"MatMul 6×(4×7→5) Aᵀ": 1,
		"MatMul 1×(7×4→5) Bᵀ": 1,
		"MatMul":              1,
	}, calls)
}

// TestOpProfileTable checks the table's order, columns and Reset.
func TestOpProfileTable(t *testing.T) {
	_, p := Profile(cpu(t))
	p.add("Add", 1*time.Millisecond)
	p.add("Linear 8×4→4", 2*time.Millisecond)
	p.add("Linear 8×4→4", 4*time.Millisecond)
	p.add("Softmax", 3*time.Millisecond)
	var buf bytes.Buffer
	require.NoError(t, p.WriteTable(&buf))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, []string{"op", "calls", "total", "ms", "mean", "ms", "%"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"Linear", "8×4→4", "2", "6.00", "3.0000", "60.0"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"Softmax", "1", "3.00", "3.0000", "30.0"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"Add", "1", "1.00", "1.0000", "10.0"}, strings.Fields(lines[3]))
	assert.Equal(t, []string{"total", "10.00", "100.0"}, strings.Fields(lines[4]))
	p.Reset()
	assert.Empty(t, p.Stats())
	assert.Zero(t, p.Total())
}
