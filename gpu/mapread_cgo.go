//go:build cgo && !nowebgpu

package gpu

/*
#include <stdint.h>
#include <stdlib.h>

typedef struct WGPUBufferImpl *WGPUBuffer;
typedef void (*gpuMapCallback)(uint32_t status, void *userdata);

void wgpuBufferMapAsync(WGPUBuffer buffer, uint32_t mode, size_t offset, size_t size, gpuMapCallback callback, void *userdata);

// slot[0] becomes 1 when the map finished; slot[1] holds its status.
static void gpu_map_done(uint32_t status, void *userdata) {
	int32_t *slot = userdata;
	slot[1] = (int32_t)status;
	__atomic_store_n(&slot[0], 1, __ATOMIC_RELEASE);
}

static int32_t *gpu_map_async(WGPUBuffer b, uint32_t mode, size_t offset, size_t size) {
	int32_t *slot = calloc(2, sizeof(int32_t));
	if (slot != NULL) {
		wgpuBufferMapAsync(b, mode, offset, size, gpu_map_done, slot);
	}
	return slot;
}

static int gpu_map_finished(int32_t *slot) { return __atomic_load_n(&slot[0], __ATOMIC_ACQUIRE); }
static int32_t gpu_map_status(int32_t *slot) { return slot[1]; }
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// mapping is a buffer map in flight whose completion wgpu records in C
// memory. go-webgpu v0.17.1's Buffer.MapAsync hands wgpu a pointer to a Go
// variable (its callback's cgo.Handle) that nothing keeps alive after the
// call: a garbage collection while the map is pending (a server's other
// goroutines allocating) frees it, and the callback then panics with
// "runtime/cgo: misuse of an invalid Handle" inside Device.Poll.
type mapping struct{ slot *C.int32_t }

// rawBuffer returns the C handle inside a go-webgpu Buffer, its second
// field after the device's (as rawDevice, relying on v0.17.1's layout).
func rawBuffer(b *wgpu.Buffer) C.WGPUBuffer {
	return (*struct {
		device unsafe.Pointer
		ref    C.WGPUBuffer
	})(unsafe.Pointer(b)).ref
}

// mapAsync starts mapping size bytes of b at offset for mode.
func mapAsync(b *wgpu.Buffer, mode wgpu.MapMode, offset, size uint64) (*mapping, error) {
	slot := C.gpu_map_async(rawBuffer(b), C.uint32_t(mode), C.size_t(offset), C.size_t(size))
	if slot == nil {
		return nil, errors.New("gpu: out of host memory for a buffer map")
	}
	return &mapping{slot: slot}, nil
}

// finished reports whether wgpu has called back.
func (m *mapping) finished() bool { return C.gpu_map_finished(m.slot) != 0 }

// status is the map's result once finished.
func (m *mapping) status() wgpu.BufferMapAsyncStatus {
	return wgpu.BufferMapAsyncStatus(C.gpu_map_status(m.slot))
}

// free releases the C memory once wgpu has called back; a map abandoned
// before (a lost device) keeps its few bytes, which a late callback writes.
func (m *mapping) free() {
	if m.finished() {
		C.free(unsafe.Pointer(m.slot))
	}
}
