//go:build cgo && !nowebgpu

package serve

import (
	"testing"

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
	t.Run("load", func(t *testing.T) { checkLoad64(t, newHarnessOn(t, "gpt2", Options{MaxBatch: 64}, open)) })
}
