//go:build cgo && !nowebgpu

package gpu

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Instance is a WebGPU instance and the adapters it found, in a stable
// order: by API (Vulkan, Metal, D3D12, OpenGL), then as wgpu enumerated them.
type Instance struct {
	raw      *wgpu.Instance
	adapters []*wgpu.Adapter
	infos    []AdapterInfo
}

// AdapterInfo describes one adapter.
type AdapterInfo struct {
	Index  int    // position in Instance.Adapters
	Name   string // adapter name
	Vendor string // vendor name, or the PCI vendor id in hex
	API    string // "Vulkan", "Metal", "D3D12", "D3D11", "OpenGL", "OpenGLES"
	Type   string // "DiscreteGPU", "IntegratedGPU", "CPU", "Unknown"
	Driver string // driver description, when the adapter reports one
	// Limits holds the adapter's compute-relevant limits by their WebGPU
	// names (maxStorageBufferBindingSize, ...).
	Limits map[string]uint64
}

// NewInstance creates an instance over every backend wgpu was built with
// and enumerates its adapters.
func NewInstance() (inst *Instance, err error) {
	defer func() {
		// The binding panics when wgpu-native cannot create an instance.
		if r := recover(); r != nil {
			inst, err = nil, fmt.Errorf("gpu: creating WebGPU instance: %v", r)
		}
	}()
	raw := wgpu.CreateInstance(nil)
	in := &Instance{raw: raw}
	all := raw.EnumerateAdapters(nil)
	type entry struct {
		a    *wgpu.Adapter
		info AdapterInfo
		seq  int
	}
	entries := make([]entry, len(all))
	for i, a := range all {
		entries[i] = entry{a: a, info: describe(a), seq: i}
	}
	sort.SliceStable(entries, func(i, j int) bool {
		return apiRank(entries[i].info.API) < apiRank(entries[j].info.API)
	})
	for i, e := range entries {
		e.info.Index = i
		in.adapters = append(in.adapters, e.a)
		in.infos = append(in.infos, e.info)
	}
	return in, nil
}

// Adapters returns a description of every adapter, indexed as Open expects.
func (in *Instance) Adapters() []AdapterInfo {
	return append([]AdapterInfo(nil), in.infos...)
}

// Release releases the adapters and the instance. Devices opened from it
// must be closed first.
func (in *Instance) Release() {
	for _, a := range in.adapters {
		a.Release()
	}
	in.adapters, in.infos = nil, nil
	if in.raw != nil {
		in.raw.Release()
		in.raw = nil
	}
}

// adapter returns adapter i or an error naming the valid range.
func (in *Instance) adapter(i int) (*wgpu.Adapter, AdapterInfo, error) {
	if i < 0 || i >= len(in.adapters) {
		return nil, AdapterInfo{}, fmt.Errorf("gpu: no adapter %d (have %d)", i, len(in.adapters))
	}
	return in.adapters[i], in.infos[i], nil
}

func apiRank(api string) int {
	switch api {
	case "Vulkan":
		return 0
	case "Metal":
		return 1
	case "D3D12":
		return 2
	case "D3D11":
		return 3
	case "OpenGL":
		return 4
	case "OpenGLES":
		return 5
	}
	return 6
}

func describe(a *wgpu.Adapter) AdapterInfo {
	p := a.GetProperties()
	info := AdapterInfo{
		Name:   p.Name,
		Vendor: p.VendorName,
		API:    apiName(p.BackendType),
		Type:   typeName(p.AdapterType),
		Driver: p.DriverDescription,
	}
	if info.Vendor == "" {
		info.Vendor = "0x" + strconv.FormatUint(uint64(p.VendorId), 16)
	}
	info.Limits = limitMap(a.GetLimits().Limits)
	return info
}

func apiName(b wgpu.BackendType) string {
	switch b {
	case wgpu.BackendType_Vulkan:
		return "Vulkan"
	case wgpu.BackendType_Metal:
		return "Metal"
	case wgpu.BackendType_D3D12:
		return "D3D12"
	case wgpu.BackendType_D3D11:
		return "D3D11"
	case wgpu.BackendType_OpenGL:
		return "OpenGL"
	case wgpu.BackendType_OpenGLES:
		return "OpenGLES"
	}
	return b.String()
}

func typeName(t wgpu.AdapterType) string {
	switch t {
	case wgpu.AdapterType_DiscreteGPU:
		return "DiscreteGPU"
	case wgpu.AdapterType_IntegratedGPU:
		return "IntegratedGPU"
	case wgpu.AdapterType_CPU:
		return "CPU"
	}
	return "Unknown"
}

// limitMap keeps the limits that matter for compute, by their WebGPU names.
func limitMap(l wgpu.Limits) map[string]uint64 {
	return map[string]uint64{
		"maxStorageBufferBindingSize":       l.MaxStorageBufferBindingSize,
		"maxBufferSize":                     l.MaxBufferSize,
		"maxStorageBuffersPerShaderStage":   uint64(l.MaxStorageBuffersPerShaderStage),
		"maxUniformBufferBindingSize":       l.MaxUniformBufferBindingSize,
		"maxComputeWorkgroupStorageSize":    uint64(l.MaxComputeWorkgroupStorageSize),
		"maxComputeInvocationsPerWorkgroup": uint64(l.MaxComputeInvocationsPerWorkgroup),
		"maxComputeWorkgroupSizeX":          uint64(l.MaxComputeWorkgroupSizeX),
		"maxComputeWorkgroupsPerDimension":  uint64(l.MaxComputeWorkgroupsPerDimension),
		"minStorageBufferOffsetAlignment":   uint64(l.MinStorageBufferOffsetAlignment),
		"minUniformBufferOffsetAlignment":   uint64(l.MinUniformBufferOffsetAlignment),
	}
}
