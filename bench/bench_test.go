package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
)

func cpu(t testing.TB) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// TestRunTiny runs both phases on the tiny shapes: timings positive,
// token rates consistent with them, losses finite and falling, the
// parameter counts PEFT would print, and a memory figure from the Go heap.
func TestRunTiny(t *testing.T) {
	b := cpu(t)
	for _, tc := range []struct {
		shape             string
		params, trainable int64
	}{
		// tiny-gpt2: wte 256·64 + wpe 256·64 + 2 blocks of 49,984 + ln_f
		// 128; vectors c_attn (192) and mlp.c_proj (256) per block.
		{"tiny-gpt2", 256*64 + 256*64 + 2*49984 + 128 + 2*448, 2 * 448},
		// tiny-llama vectors: k_proj (32), v_proj (32), down_proj (128).
		{"tiny-llama", 0, 2 * (32 + 32 + 128)},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			cfg, err := NamedShape(tc.shape)
			require.NoError(t, err)
			r, err := Run(context.Background(), b, tc.shape, cfg, Options{Batch: 2, Seq: 16, Steps: 3, Warmup: 1, GenerateTokens: 4})
			require.NoError(t, err)
			assert.Equal(t, tc.trainable, r.Trainable)
			if tc.params > 0 {
				assert.Equal(t, tc.params, r.Params)
			}
			assert.Greater(t, r.TrainStepS, 0.0)
			assert.InDelta(t, 32/r.TrainStepS, r.TrainTokensPerS, 1e-6*r.TrainTokensPerS)
			assert.InDelta(t, 32/r.ForwardS, r.ForwardTokensPerS, 1e-6*r.ForwardTokensPerS)
			assert.Less(t, r.LastLoss, r.FirstLoss, "training lowers the loss")
			assert.Equal(t, 4, r.GenerateTokens)
			assert.InDelta(t, 8/r.GenerateS, r.GenerateTokensPerS, 1e-6*r.GenerateTokensPerS)
			require.NotNil(t, r.PeakMemGiB)
			assert.Greater(t, *r.PeakMemGiB, 0.0)
			assert.Equal(t, "cpu", r.Device)
			assert.Nil(t, r.TrainStepDispatches, "the CPU counts no dispatches")
			assert.Nil(t, r.ForwardWork)
		})
	}
}

// syncCounter is a CPU backend that counts its Syncs as submits and each
// Sync as three dispatches, so the per-step work Run reports is known.
type syncCounter struct {
	backend.Backend
	syncs uint64
}

func (s *syncCounter) Sync() error { s.syncs++; return s.Backend.Sync() }

func (s *syncCounter) Counters() backend.WorkCounts {
	return backend.WorkCounts{Dispatches: 3 * s.syncs, Submits: s.syncs}
}

// TestRunWork checks that Run reports the work of one step of each phase
// from a backend.WorkCounter: a training step and a forward pass each
// Sync once (TrainStep's readback does not Sync on the CPU).
func TestRunWork(t *testing.T) {
	cfg, err := NamedShape("tiny-gpt2")
	require.NoError(t, err)
	r, err := Run(context.Background(), &syncCounter{Backend: cpu(t)}, "tiny-gpt2", cfg, Options{Batch: 1, Seq: 8, Steps: 2, Warmup: 1})
	require.NoError(t, err)
	require.NotNil(t, r.TrainStepDispatches)
	require.NotNil(t, r.ForwardDispatches)
	assert.Equal(t, uint64(3), *r.TrainStepDispatches)
	assert.Equal(t, uint64(1), *r.TrainStepSubmits)
	assert.Equal(t, uint64(3), *r.ForwardDispatches)
	assert.Equal(t, uint64(1), *r.ForwardSubmits)
	assert.Equal(t, backend.WorkCounts{Dispatches: 3, Submits: 1}, *r.ForwardWork)
}

// TestRunErrors checks refusals: unknown shape, bad sizes, too long.
func TestRunErrors(t *testing.T) {
	b := cpu(t)
	_, err := NamedShape("gpt5")
	assert.ErrorContains(t, err, `unknown shape "gpt5"`)
	cfg, err := NamedShape("tiny-gpt2")
	require.NoError(t, err)
	_, err = Run(context.Background(), b, "tiny-gpt2", cfg, Options{Batch: 1, Seq: 4, Steps: 0})
	assert.ErrorContains(t, err, "steps 0")
	_, err = Run(context.Background(), b, "tiny-gpt2", cfg, Options{Batch: 1, Seq: 1000, Steps: 1})
	assert.ErrorContains(t, err, "exceeds the shape's 256 positions")
	_, err = Run(context.Background(), b, "tiny-gpt2", cfg, Options{Batch: 1, Seq: 250, Steps: 1, GenerateTokens: 10})
	assert.ErrorContains(t, err, "seq 250 + 10 generated tokens exceed")
}

// BenchmarkTrainStepTinyGPT2 times one IA3 training step (forward,
// backward, AdamW) of the tiny GPT-2 shape on the CPU, batch 4 × 64.
func BenchmarkTrainStepTinyGPT2(b *testing.B) { benchSession(b, "tiny-gpt2", true) }

// BenchmarkForwardTinyGPT2 times one forward pass of the same batch.
func BenchmarkForwardTinyGPT2(b *testing.B) { benchSession(b, "tiny-gpt2", false) }

// BenchmarkGenerateTinyGPT2 times greedy generation of 16 tokens after
// each of 4 prompts of 64 tokens, through the KV cache.
func BenchmarkGenerateTinyGPT2(b *testing.B) {
	be := cpu(b)
	cfg, err := NamedShape("tiny-gpt2")
	require.NoError(b, err)
	s, err := NewSession(be, cfg, 4, 64, 1)
	require.NoError(b, err)
	defer s.Close()
	for b.Loop() {
		if err := s.Generate(context.Background(), 16); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(4*16*b.N)/b.Elapsed().Seconds(), "new-tokens/s")
}

// BenchmarkTrainStepTinyLlama is BenchmarkTrainStepTinyGPT2 for Llama.
func BenchmarkTrainStepTinyLlama(b *testing.B) { benchSession(b, "tiny-llama", true) }

// BenchmarkForwardTinyLlama is BenchmarkForwardTinyGPT2 for Llama.
func BenchmarkForwardTinyLlama(b *testing.B) { benchSession(b, "tiny-llama", false) }

func benchSession(b *testing.B, shape string, train bool) {
	be := cpu(b)
	cfg, err := NamedShape(shape)
	require.NoError(b, err)
	s, err := NewSession(be, cfg, 4, 64, 1)
	require.NoError(b, err)
	defer s.Close()
	for b.Loop() {
		if train {
			_, err = s.TrainStep()
		} else {
			err = s.Forward()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Tokens())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
