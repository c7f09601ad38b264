//go:build !cgo || nowebgpu

package webgpu

import (
	"context"
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/gpu"
)

// This file stands in for the backend in a pure-Go build (CGO_ENABLED=0 or
// -tags nowebgpu): the Provider is still registered, so `ia3 devices` and
// --device gpu say why there is no GPU, but nothing can be opened.

func init() { backend.Register(Provider{}) }

// Provider lists one placeholder device that cannot compute, whose Reason
// is gpu.ErrNotBuilt, and opens nothing.
type Provider struct{}

// Name returns "gpu", the prefix of the specs Open accepts.
func (Provider) Name() string { return "gpu" }

// Devices lists the placeholder "gpu" device with Compute false.
func (Provider) Devices(context.Context) ([]backend.DeviceInfo, error) {
	return []backend.DeviceInfo{{Spec: "gpu", Name: "WebGPU", API: "WebGPU", Type: "none",
		Compute: false, Reason: gpu.ErrNotBuilt.Error()}}, nil
}

// Open fails with gpu.ErrNotBuilt.
func (Provider) Open(ctx context.Context, spec string) (backend.Backend, error) {
	return Open(ctx, spec)
}

// Backend is never constructed in this build; it exists so that code
// written against the WebGPU build still compiles.
type Backend struct{ backend.Backend }

// Open fails with gpu.ErrNotBuilt.
func Open(_ context.Context, spec string) (*Backend, error) {
	return nil, fmt.Errorf("open %s: %w", spec, gpu.ErrNotBuilt)
}
