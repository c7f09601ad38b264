//go:build cgo && !nowebgpu

package gpu

/*
#include <stddef.h>
#include <stdint.h>

typedef struct WGPUInstanceImpl *WGPUInstance;

// The report structs of wgpu-native 0.17's wgpu.h, declared here because
// go-webgpu's GenerateReport keeps only the hub of the report's backendType:
// an instance with both Vulkan and OpenGL adapters reports the OpenGL hub
// alone, so a Vulkan device's objects were invisible.
typedef struct { size_t numOccupied, numVacant, numError, elementSize; } gpuStorageReport;
typedef struct {
	gpuStorageReport adapters, devices, pipelineLayouts, shaderModules, bindGroupLayouts, bindGroups,
		commandBuffers, renderBundles, renderPipelines, computePipelines, querySets, buffers, textures,
		textureViews, samplers;
} gpuHubReport;
typedef struct {
	gpuStorageReport surfaces;
	uint32_t backendType;
	gpuHubReport vulkan, metal, dx12, dx11, gl;
} gpuGlobalReport;

void wgpuGenerateReport(WGPUInstance instance, gpuGlobalReport *report);
*/
import "C"

import (
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// hubCounts reads the live-object counts of one backend's hub (api as
// AdapterInfo.API names it) from wgpu-native's global report.
func hubCounts(inst *wgpu.Instance, api string) Counts {
	ref := (*struct{ ref C.WGPUInstance })(unsafe.Pointer(inst)).ref
	var r C.gpuGlobalReport
	C.wgpuGenerateReport(ref, &r)
	var h *C.gpuHubReport
	switch api {
	case "Vulkan":
		h = &r.vulkan
	case "Metal":
		h = &r.metal
	case "D3D12":
		h = &r.dx12
	case "D3D11":
		h = &r.dx11
	case "OpenGL", "OpenGLES":
		h = &r.gl
	default:
		return Counts{}
	}
	return Counts{
		Buffers:          uint64(h.buffers.numOccupied),
		BindGroups:       uint64(h.bindGroups.numOccupied),
		ComputePipelines: uint64(h.computePipelines.numOccupied),
		CommandBuffers:   uint64(h.commandBuffers.numOccupied),
	}
}
