package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad64Clients drives the server over loopback with 64 streaming
// clients over the base model and three adapters (bounded: one request
// each, 8 tokens). The requests are held in the queue until all 64 wait,
// so the run is one batched prefill and 7 decoding steps where serving
// them one at a time takes 64 prefills and 448 steps; then a second,
// ungated round of 128 requests. No request fails, and the batch, queue,
// KV cache and goroutines come back to idle.
func TestLoad64Clients(t *testing.T) {
	checkLoad64(t, newHarness(t, "gpt2", Options{MaxBatch: 64}))
}

// checkLoad64 is TestLoad64Clients on the server h runs (MaxBatch 64).
func checkLoad64(t *testing.T, h *harness) {
	const clients, tokens = 64, 8
	before := h.warmGoroutines()
	st0 := h.srv.Stats()
	opts := LoadOptions{URL: h.http.URL, Clients: clients, Requests: 1, Models: []string{BaseModelID, "a", "b", "w"},
		Prompts:   []string{"hello", "the quick brown fox", "a b c d e f g h", "the lazy dog jumps over the quick brown fox"},
		MaxTokens: tokens, Client: h.http.Client()}

	release := h.holdScheduler()
	reports := make(chan LoadReport, 1)
	go func() {
		rep, err := Load(context.Background(), opts)
		assert.NoError(t, err)
		reports <- rep
	}()
	require.Eventually(t, func() bool { return h.srv.Stats().Queued == clients }, 30*time.Second, time.Millisecond, "every client queued")
	release()
	rep := <-reports
	assert.Equal(t, clients, rep.Requests)
	assert.Zero(t, rep.Errors, rep.FirstError)
	assert.Equal(t, clients*tokens, rep.Tokens)
	st := h.srv.Stats()
	assert.Equal(t, int64(1), st.PrefillSteps-st0.PrefillSteps, "one batched prefill")
	assert.Equal(t, int64(tokens-1), st.DecodeSteps-st0.DecodeSteps, "decoding steps, where one at a time takes %d", clients*(tokens-1))

	opts.Requests = 2
	rep, err := Load(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, 2*clients, rep.Requests)
	assert.Zero(t, rep.Errors, rep.FirstError)
	assert.Equal(t, 2*clients*tokens, rep.Tokens)
	assert.Less(t, h.srv.Stats().DecodeSteps-st.DecodeSteps, int64(2*clients*(tokens-1)), "fewer steps than one at a time")
	h.assertIdle(before)
}
