//go:build !cgo || nowebgpu

// Package webgputest opens a WebGPU backend for tests; in this build
// (CGO_ENABLED=0 or -tags nowebgpu) there is none, so it skips them.
package webgputest

import (
	"os"
	"testing"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/gpu"
)

// Open skips the test: WebGPU is not built in. Under IA3_REQUIRE_GPU=1 the
// test fails instead, as it would on a machine without an adapter.
func Open(t testing.TB) backend.Backend {
	t.Helper()
	return OpenWebGPU(t)
}

// OpenWebGPU is Open returning the concrete backend type.
func OpenWebGPU(t testing.TB) *webgpu.Backend {
	t.Helper()
	if os.Getenv("IA3_REQUIRE_GPU") == "1" {
		t.Fatal(gpu.ErrNotBuilt)
	}
	t.Skip(gpu.ErrNotBuilt)
	return nil
}
