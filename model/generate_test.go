package model

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// generativeCases loads every causal and seq2seq fixture model.
func generativeCases(t *testing.T) []modeltest.Case {
	t.Helper()
	var out []modeltest.Case
	for _, c := range modeltest.Cases(t) {
		if c.Meta.TaskType == TaskCausalLM || c.Meta.TaskType == TaskSeq2SeqLM {
			out = append(out, c)
		}
	}
	return out
}

// loadCase loads a fixture case's base model on the CPU backend.
func loadCase(t *testing.T, c modeltest.Case) *Model {
	t.Helper()
	m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), testBackend(t))
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// greedyByFullForward decodes one prompt greedily by running the whole
// sequence through Forward at every step, without a cache or padding: the
// reference the cached, batched Generate must reproduce.
func greedyByFullForward(t *testing.T, m *Model, prompt []int32, n int) []int32 {
	t.Helper()
	V := m.Config().VocabSize
	var gen []int32
	for range n {
		var in *Inputs
		if m.Config().TaskType == TaskSeq2SeqLM {
			dec := append([]int32{int32(m.Config().DecoderStartTokenID)}, gen...)
			in = &Inputs{Batch: 1, Seq: len(prompt), InputIDs: prompt, DecoderInputIDs: dec, DecoderSeq: len(dec)}
		} else {
			ids := append(append([]int32{}, prompt...), gen...)
			in = &Inputs{Batch: 1, Seq: len(ids), InputIDs: ids}
		}
		logits, shape := logitsOf(t, m, in)
		T := shape[1]
		tok, err := argmax(logits[(T-1)*V : T*V])
		require.NoError(t, err)
		gen = append(gen, tok)
	}
	return gen
}

// TestGenerateGreedyMatchesFullForward checks, on every generative fixture
// model, that greedy decoding of a left-padded batch through the KV cache
// gives each row exactly the tokens that repeated full forward passes of
// that row alone give.
func TestGenerateGreedyMatchesFullForward(t *testing.T) {
	prompts := [][]int32{{17, 42, 99}, {5, 6, 7, 8, 9, 10}, {200}}
	const n = 6
	for _, c := range generativeCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m := loadCase(t, c)
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			require.Len(t, got, len(prompts))
			for r, p := range prompts {
				assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
			}
		})
	}
}

// TestGeneratePadOutsideVocabulary pads with a valid id when the EOS id
// the config names lies outside the vocabulary (the GPT-2 fixture keeps
// GPT-2's 50256 with a 256-token vocabulary): the padded row still equals
// its unpadded run.
func TestGeneratePadOutsideVocabulary(t *testing.T) {
	m := loadCase(t, fixtureCase(t, "gpt2"))
	prompts := [][]int32{{3, 4}, {5, 6, 7, 8}}
	got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: 3})
	require.NoError(t, err)
	assert.Equal(t, greedyByFullForward(t, m, prompts[0], 3), got[0])
}

// TestGenerateSampling checks the sampler: a fixed seed repeats, another
// seed (over several rows) differs, and top-k 1 equals greedy.
func TestGenerateSampling(t *testing.T) {
	c := fixtureCase(t, "gpt2")
	m := loadCase(t, c)
	prompts := [][]int32{{1, 2, 3}, {4, 5}, {6}, {7, 8, 9, 10}}
	ctx := context.Background()
	opts := GenerateOptions{MaxNewTokens: 8, Temperature: 1.5, TopP: 0.95, Seed: 7, EOS: []int32{}}
	a, err := m.Generate(ctx, prompts, opts)
	require.NoError(t, err)
	b, err := m.Generate(ctx, prompts, opts)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same seed")
	opts.Seed = 8
	other, err := m.Generate(ctx, prompts, opts)
	require.NoError(t, err)
	assert.NotEqual(t, a, other, "another seed")

	greedy, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 8, EOS: []int32{}})
	require.NoError(t, err)
	top1, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 8, Temperature: 1, TopK: 1, Seed: 3, EOS: []int32{}})
	require.NoError(t, err)
	assert.Equal(t, greedy, top1)
}

// TestGenerateStopsAtEOS makes the greedy continuation's third token the
// EOS: that row stops with it while the others run to the limit, and the
// callback sees exactly the returned tokens.
func TestGenerateStopsAtEOS(t *testing.T) {
	for _, name := range []string{"gpt2", "t5"} {
		t.Run(name, func(t *testing.T) {
			m := loadCase(t, fixtureCase(t, name))
			prompts := [][]int32{{11, 12, 13}, {14, 15}}
			ctx := context.Background()
			free, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 6, EOS: []int32{}})
			require.NoError(t, err)
			eos := free[0][2]
			streamed := make([][]int32, len(prompts))
			got, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 6, EOS: []int32{eos},
				OnToken: func(row int, tok int32) error { streamed[row] = append(streamed[row], tok); return nil }})
			require.NoError(t, err)
			assert.LessOrEqual(t, len(got[0]), 3, "row 0 stops at its EOS")
			assert.Equal(t, streamed, got)
			for r := range got {
				i := indexOf(free[r], eos)
				if i < 0 {
					assert.Equal(t, free[r], got[r], "row %d never meets EOS", r)
				} else {
					assert.Equal(t, free[r][:i+1], got[r], "row %d", r)
				}
			}
		})
	}
}

func indexOf(xs []int32, x int32) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// TestGenerateErrors checks refusals and early stops: bad options, empty
// or out-of-vocabulary prompts, too long for GPT-2's positions, a
// cancelled context and a failing callback (both keep the tokens so far).
func TestGenerateErrors(t *testing.T) {
	m := loadCase(t, fixtureCase(t, "gpt2"))
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		prompts [][]int32
		o       GenerateOptions
		want    string
	}{
		{"no prompts", nil, GenerateOptions{MaxNewTokens: 1}, "no prompts"},
		{"empty prompt", [][]int32{{1}, {}}, GenerateOptions{MaxNewTokens: 1}, "prompt 1 is empty"},
		{"vocabulary", [][]int32{{1, 256}}, GenerateOptions{MaxNewTokens: 1}, "prompt 0 token 1 = 256"},
		{"max new tokens", [][]int32{{1}}, GenerateOptions{}, "max new tokens 0"},
		{"top-p", [][]int32{{1}}, GenerateOptions{MaxNewTokens: 1, Temperature: 1, TopP: 2}, "top-p"},
		{"temperature NaN", [][]int32{{1}}, GenerateOptions{MaxNewTokens: 1, Temperature: math.NaN()}, "want finite numbers"},
		{"temperature Inf", [][]int32{{1}}, GenerateOptions{MaxNewTokens: 1, Temperature: math.Inf(1)}, "want finite numbers"},
		{"top-p NaN", [][]int32{{1}}, GenerateOptions{MaxNewTokens: 1, Temperature: 1, TopP: math.NaN()}, "want finite numbers"},
		{"positions", [][]int32{{1, 2}}, GenerateOptions{MaxNewTokens: 63}, "exceeds n_positions 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Generate(ctx, tc.prompts, tc.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	stop := errors.New("enough")
	got, err := m.Generate(ctx, [][]int32{{1, 2}}, GenerateOptions{MaxNewTokens: 5, EOS: []int32{},
		OnToken: func(_ int, _ int32) error { return stop }})
	require.ErrorIs(t, err, stop)
	assert.Len(t, got[0], 1)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Generate(cancelled, [][]int32{{1, 2}}, GenerateOptions{MaxNewTokens: 5})
	require.ErrorIs(t, err, context.Canceled)
}

// TestEOSTokenIDs reads eos_token_id as absent, null, a number or a list.
func TestEOSTokenIDs(t *testing.T) {
	for _, tc := range []struct {
		raw  map[string]any
		want []int32
		err  bool
	}{
		{map[string]any{}, []int32{}, false},
		{map[string]any{"eos_token_id": nil}, []int32{}, false},
		{map[string]any{"eos_token_id": 2.0}, []int32{2}, false},
		{map[string]any{"eos_token_id": []any{1.0, 7.0}}, []int32{1, 7}, false},
		{map[string]any{"eos_token_id": "x"}, nil, true},
	} {
		got, err := EOSTokenIDs(&Config{Raw: tc.raw})
		if tc.err {
			assert.Error(t, err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// TestSampleFilters checks top-k and top-p on a hand-made distribution.
func TestSampleFilters(t *testing.T) {
	logits := []float32{0, 3, 1, 3, 2}
	// Ordered candidates: 1, 3 (tie, lower index first), 4, 2, 0.
	tok, err := sample(logits, 1, 1, 0, 0.999)
	require.NoError(t, err)
	assert.Equal(t, int32(1), tok, "top-k 1 is argmax, first on ties")
	tok, err = sample(logits, 1, 2, 0, 0.999)
	require.NoError(t, err)
	assert.Equal(t, int32(3), tok, "top-k 2 reaches the tie")
	// p(1)=p(3)≈0.34: top-p 0.5 keeps two tokens.
	tok, err = sample(logits, 1, 0, 0.5, 0.999)
	require.NoError(t, err)
	assert.Equal(t, int32(3), tok)
	tok, err = sample(logits, 1, 0, 0, 0.999)
	require.NoError(t, err)
	assert.Equal(t, int32(0), tok, "no filter: the last candidate")
	_, err = sample([]float32{0, float32(math.NaN())}, 1, 0, 0, 0.5)
	assert.Error(t, err)
}
