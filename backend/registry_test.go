package backend

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProvider lists fixed devices and opens a fakeBackend for each, or
// fails for specs in broken.
type fakeProvider struct {
	name    string
	devices []DeviceInfo
	broken  map[string]bool
	opened  []*fakeBackend
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) Devices(context.Context) ([]DeviceInfo, error) { return p.devices, nil }

func (p *fakeProvider) Open(_ context.Context, spec string) (Backend, error) {
	if p.broken[spec] {
		return nil, fmt.Errorf("open %s: adapter lost", spec)
	}
	b := &fakeBackend{}
	p.opened = append(p.opened, b)
	return b, nil
}

// withProviders registers ps for one test and restores the registry after.
func withProviders(t *testing.T, ps ...Provider) {
	registry.Lock()
	saved := registry.providers
	registry.providers = nil
	registry.Unlock()
	t.Cleanup(func() {
		registry.Lock()
		registry.providers = saved
		registry.Unlock()
	})
	for _, p := range ps {
		Register(p)
	}
}

func TestOpenReturnsCheckedBackend(t *testing.T) {
	p := &fakeProvider{name: "fake", devices: []DeviceInfo{{Spec: "fake", Type: "Host", Compute: true}}}
	withProviders(t, p)

	b, err := Open(context.Background(), " FAKE ")
	require.NoError(t, err)
	require.Len(t, p.opened, 1)
	assert.Same(t, p.opened[0], b.(interface{ Unwrap() Backend }).Unwrap())

	_, err = b.MatMul(f32(2, 3), f32(4, 5), MatMulOptions{})
	var ae *ArgError
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, "matmul", ae.Op)
	assert.Empty(t, p.opened[0].calls, "the malformed call reached the device")
}

func TestOpenAutoPrefersGPUAndSkipsBroken(t *testing.T) {
	host := &fakeProvider{name: "cpu", devices: []DeviceInfo{{Spec: "cpu", API: "Go", Type: "Host", Compute: true}}}
	gpu := &fakeProvider{name: "gpu",
		devices: []DeviceInfo{
			{Spec: "gpu:0", API: "Vulkan", Type: "CPU", Compute: true},
			{Spec: "gpu:1", API: "Vulkan", Type: "DiscreteGPU", Compute: true},
			{Spec: "gpu:2", API: "Vulkan", Type: "DiscreteGPU", Compute: false, Reason: "no compute"},
		},
		broken: map[string]bool{"gpu:1": true},
	}
	withProviders(t, host, gpu)

	tests := []struct {
		spec, wantErr string
		gpuOpens      int
		hostOpens     int
	}{
		// gpu:1 ranks first but fails to open, so the software adapter wins.
		{spec: "auto", gpuOpens: 1},
		{spec: "", gpuOpens: 1},
		{spec: "gpu", gpuOpens: 1},
		{spec: "cpu", hostOpens: 1},
		{spec: "gpu:1", wantErr: "adapter lost"},
		{spec: "tpu", wantErr: `unknown device "tpu"`},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			host.opened, gpu.opened = nil, nil
			b, err := Open(context.Background(), tc.spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.Nil(t, b)
				return
			}
			require.NoError(t, err)
			_, wrapped := b.(*checked)
			assert.True(t, wrapped, "Open must return a Checked backend")
			assert.Len(t, gpu.opened, tc.gpuOpens)
			assert.Len(t, host.opened, tc.hostOpens)
		})
	}
}

// TestOpenSaysWhatIsMissing checks the errors of a program that links in
// too few providers: a missing provider is named with the package to
// import, and "gpu"/"auto" carry the reasons of the devices they skipped.
func TestOpenSaysWhatIsMissing(t *testing.T) {
	stub := &fakeProvider{name: "gpu", devices: []DeviceInfo{
		{Spec: "gpu", Name: "WebGPU", API: "WebGPU", Compute: false, Reason: "WebGPU not built"},
	}}
	tests := []struct {
		name      string
		providers []Provider
		spec      string
		wantErr   string
	}{
		{"no providers, auto", nil, "auto", "no device provider is linked in; import github.com/ia3/ia3/backend/all"},
		{"no providers, cpu", nil, "cpu", `device "cpu": no cpu provider is linked into this program; import github.com/ia3/ia3/backend/all (or backend/cpu)`},
		{"no providers, gpu:0", nil, "gpu:0", "import github.com/ia3/ia3/backend/all (or backend/webgpu)"},
		{"stub gpu, gpu", []Provider{stub}, "gpu", "no usable GPU adapter found (is a Vulkan, Metal or D3D12 driver installed? see `ia3 devices`); skipped gpu (WebGPU): WebGPU not built"},
		{"stub gpu, auto", []Provider{stub}, "auto", "no usable device found; skipped gpu (WebGPU): WebGPU not built"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withProviders(t, tc.providers...)
			b, err := Open(context.Background(), tc.spec)
			assert.Nil(t, b)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}
