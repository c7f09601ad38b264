//go:build cgo && !nowebgpu

package serve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// TestWebGPU runs the equality and load tests with the model on WebGPU
// (lavapipe in CI; skipped without an adapter unless IA3_REQUIRE_GPU=1):
// every completion equals Generate alone on the same device, and 64
// clients over four model ids all succeed with the server back to idle.
func TestWebGPU(t *testing.T) {
	open := func(t *testing.T) backend.Backend { return webgputest.Open(t) }
	t.Run("completions", func(t *testing.T) { checkServedCases(t, newHarnessOn(t, "llama", Options{MaxBatch: 6}, open)) })
	t.Run("load", func(t *testing.T) {
		// The first backend opened holds the server's model (the second
		// the reference copy): its device bytes must not grow from one
		// round of 64 clients to the next.
		var served interface{ AllocatedBytes() uint64 }
		h := newHarnessOn(t, "gpt2", Options{MaxBatch: 64}, func(t *testing.T) backend.Backend {
			b := open(t)
			if served == nil {
				served, _ = b.(interface{ AllocatedBytes() uint64 })
			}
			return b
		})
		require.NotNil(t, served, "the WebGPU backend reports its allocated bytes")
		checkLoad64(t, h)
		after := served.AllocatedBytes()
		rep, err := Load(context.Background(), LoadOptions{URL: h.http.URL, Clients: 64, Requests: 1,
			Models: []string{BaseModelID, "a", "b", "w"}, Prompts: []string{"hello", "the quick brown fox"},
			MaxTokens: 8, Client: h.http.Client()})
		require.NoError(t, err)
		assert.Zero(t, rep.Errors, rep.FirstError)
		h.waitDrained()
		assert.Equal(t, after, served.AllocatedBytes(), "device bytes held after a second round of 64 clients")
	})
}
