//go:build cgo && !nowebgpu

// Package webgputest opens a WebGPU backend for tests, skipping them when
// the machine has no adapter that can run compute.
package webgputest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
)

// skipMessage is why tests skip (or, under IA3_REQUIRE_GPU=1, fail).
const skipMessage = "no WebGPU adapter: install mesa-vulkan-drivers (lavapipe) to run the WebGPU tests"

// Open opens the first adapter that can run compute and closes it when the
// test ends. Without one the test is skipped, unless the environment sets
// IA3_REQUIRE_GPU=1 (as CI does), in which case it fails.
func Open(t testing.TB) backend.Backend {
	t.Helper()
	return OpenWebGPU(t)
}

// OpenWebGPU is Open returning the concrete backend, for tests of package
// webgpu that inspect it.
func OpenWebGPU(t testing.TB) *webgpu.Backend {
	t.Helper()
	ctx := context.Background()
	devs, err := devices()
	if err == nil {
		for _, d := range devs {
			if !d.Compute {
				continue
			}
			b, err := webgpu.Open(ctx, d.Spec)
			if err != nil {
				t.Logf("cannot open %s (%s): %v", d.Spec, d.Name, err)
				continue
			}
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("closing %s: %v", d.Spec, err)
				}
			})
			return b
		}
	}
	if os.Getenv("IA3_REQUIRE_GPU") == "1" {
		t.Fatalf("%s (devices: %v, err: %v)", skipMessage, devs, err)
	}
	t.Skip(skipMessage)
	return nil
}

// devices probes the adapters once per test binary: probing opens a device
// on every adapter, too slow to repeat in every test.
var devices = sync.OnceValues(func() ([]backend.DeviceInfo, error) {
	return webgpu.Provider{}.Devices(context.Background())
})
