//go:build cgo && !nowebgpu

package gpu

import (
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Instance is a handle on the process's WebGPU instance and the adapters it
// found, in a stable order: by API (Vulkan, Metal, D3D12, OpenGL), then as
// wgpu enumerated them.
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

// shared is the one wgpu instance behind every Instance handle, released
// when the last handle is. Two live wgpu instances are unsafe: each
// initialises the same EGL display for its OpenGL adapter, and releasing
// one terminates that display under the other, whose GL device then aborts
// inside wgpu ("BadDisplay") and whose release warns "Error in
// destroy_context: NotInitialized" (issue 11, crash 2: a test listing
// devices while another held a backend).
var shared struct {
	mu   sync.Mutex
	refs int
	inst Instance
}

// NewInstance returns a handle on the process's WebGPU instance, creating
// it over every backend wgpu was built with and enumerating its adapters
// when no other handle is live. Each handle must be released.
func NewInstance() (*Instance, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.refs == 0 {
		in, err := newInstance()
		if err != nil {
			return nil, err
		}
		shared.inst = *in
	}
	shared.refs++
	return &Instance{raw: shared.inst.raw, adapters: shared.inst.adapters, infos: shared.inst.infos}, nil
}

func newInstance() (inst *Instance, err error) {
	defer func() {
		// The binding panics when wgpu-native cannot create an instance.
		if r := recover(); r != nil {
			inst, err = nil, fmt.Errorf("gpu: creating WebGPU instance: %v", r)
		}
	}()
	setWgpuLogLevel()
	var raw *wgpu.Instance
	var all []*wgpu.Adapter
	withRuntimeDir(func() {
		raw = wgpu.CreateInstance(nil)
		all = raw.EnumerateAdapters(nil)
	})
	in := &Instance{raw: raw}
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

// Release gives the handle back; the last one releases the adapters and
// the wgpu instance. Devices opened from it must be closed first. A second
// Release of the same handle does nothing.
func (in *Instance) Release() {
	if in.raw == nil {
		return
	}
	in.raw, in.adapters, in.infos = nil, nil, nil
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.refs--; shared.refs > 0 {
		return
	}
	for _, a := range shared.inst.adapters {
		a.Release()
	}
	shared.inst.raw.Release()
	shared.inst = Instance{}
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
