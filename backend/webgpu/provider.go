//go:build cgo && !nowebgpu

package webgpu

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/gpu"
)

func init() { backend.Register(Provider{}) }

// Provider lists and opens WebGPU adapters as "gpu:0", "gpu:1", ... in the
// stable order package gpu enumerates them (Vulkan, Metal, D3D12, OpenGL).
type Provider struct{}

// Name returns "gpu", the prefix of the specs Open accepts.
func (Provider) Name() string { return "gpu" }

// Devices lists every adapter. Each is probed by building and running a
// tiny kernel; one that cannot run compute is listed with Compute false and
// the reason.
func (Provider) Devices(ctx context.Context) ([]backend.DeviceInfo, error) {
	inst, err := gpu.NewInstance()
	if err != nil {
		return nil, err
	}
	defer inst.Release()
	var out []backend.DeviceInfo
	for _, a := range inst.Adapters() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info := deviceInfo(a)
		info.Compute, info.Reason = inst.Probe(a.Index)
		out = append(out, info)
	}
	return out, nil
}

// Open opens the adapter named by spec ("gpu:N").
func (Provider) Open(ctx context.Context, spec string) (backend.Backend, error) {
	return Open(ctx, spec)
}

// Open opens the adapter named by spec ("gpu:N", N as Devices lists it).
// MatMulKernelEnv is read here, once per backend; an unknown value is an
// error.
func Open(ctx context.Context, spec string) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mm, err := matmulKernelFromEnv()
	if err != nil {
		return nil, err
	}
	bindLimit, err := bindingLimitFromEnv()
	if err != nil {
		return nil, err
	}
	ek, err := expertKernelFromEnv()
	if err != nil {
		return nil, err
	}
	inst, err := gpu.NewInstance()
	if err != nil {
		return nil, err
	}
	adapters := inst.Adapters()
	idx, err := parseSpec(spec, len(adapters))
	if err != nil {
		inst.Release()
		return nil, err
	}
	dev, err := inst.Open(idx)
	if err != nil {
		inst.Release()
		return nil, fmt.Errorf("webgpu: opening %s: %w", spec, err)
	}
	info := deviceInfo(adapters[idx])
	info.Compute = true
	return &Backend{inst: inst, dev: dev, info: info, matmul: mm.resolve(info.Type), expert: ek, bindLimit: bindLimit}, nil
}

// parseSpec returns N of "gpu:N", or an error listing the valid specs.
func parseSpec(spec string, n int) (int, error) {
	valid := make([]string, n)
	for i := range valid {
		valid[i] = "gpu:" + strconv.Itoa(i)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(spec)), "gpu:")
	idx, err := strconv.Atoi(rest)
	if !ok || err != nil || idx < 0 || idx >= n {
		if n == 0 {
			return 0, fmt.Errorf("webgpu: unknown device %q: no WebGPU adapter found", spec)
		}
		return 0, fmt.Errorf("webgpu: unknown device %q: valid devices are %s", spec, strings.Join(valid, ", "))
	}
	return idx, nil
}

func deviceInfo(a gpu.AdapterInfo) backend.DeviceInfo {
	return backend.DeviceInfo{
		Spec:   "gpu:" + strconv.Itoa(a.Index),
		Name:   a.Name,
		Vendor: a.Vendor,
		API:    a.API,
		Type:   a.Type,
		Driver: a.Driver,
		Limits: a.Limits,
		// Every adapter that runs compute takes Q8_0 and NF4 weights: the
		// kernels need nothing beyond WebGPU's baseline (quant.go).
		QuantizedWeights: true,
	}
}
