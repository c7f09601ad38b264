//go:build cgo && !nowebgpu

package gpu

/*
#include <stdint.h>

// The go-webgpu binding does not expose the uncaptured-error callback or
// error scopes, so these few entry points of the statically linked
// wgpu-native library are declared here (signatures as in webgpu.h; enums
// are 32-bit).
typedef struct WGPUDeviceImpl *WGPUDevice;
typedef void (*gpuErrorCallback)(uint32_t type, char const *message, void *userdata);

void wgpuDeviceSetUncapturedErrorCallback(WGPUDevice device, gpuErrorCallback callback, void *userdata);
void wgpuDevicePushErrorScope(WGPUDevice device, uint32_t filter);
void wgpuDevicePopErrorScope(WGPUDevice device, gpuErrorCallback callback, void *userdata);

extern void gpuErrorGo(uint32_t type, char *message, void *userdata);

static void gpu_set_uncaptured(WGPUDevice d, uintptr_t h) {
	wgpuDeviceSetUncapturedErrorCallback(d, (gpuErrorCallback)gpuErrorGo, (void *)h);
}

static void gpu_push_scope(WGPUDevice d, uint32_t filter) {
	wgpuDevicePushErrorScope(d, filter);
}

static void gpu_pop_scope(WGPUDevice d, uintptr_t h) {
	wgpuDevicePopErrorScope(d, (gpuErrorCallback)gpuErrorGo, (void *)h);
}
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Error scope filters (WGPUErrorFilter).
const (
	filterValidation  = 0
	filterOutOfMemory = 1
)

// errorSink receives errors reported by wgpu through a C callback.
type errorSink func(typ wgpu.ErrorType, message string)

//export gpuErrorGo
func gpuErrorGo(typ C.uint32_t, msg *C.char, ud unsafe.Pointer) {
	h := cgo.Handle(uintptr(ud))
	if sink, ok := h.Value().(errorSink); ok && wgpu.ErrorType(typ) != wgpu.ErrorType_NoError {
		sink(wgpu.ErrorType(typ), C.GoString(msg))
	}
}

// rawDevice returns the C handle inside a go-webgpu Device. The binding keeps
// it as the struct's only field; this is the one place that relies on it.
func rawDevice(d *wgpu.Device) C.WGPUDevice {
	return *(*C.WGPUDevice)(unsafe.Pointer(d))
}

// setUncapturedErrors routes errors raised outside any error scope (queue
// submissions, buffer writes) to sink instead of wgpu-native's default
// handler, which aborts the process. The returned handle must be deleted
// after the device is released.
func setUncapturedErrors(d *wgpu.Device, sink errorSink) cgo.Handle {
	h := cgo.NewHandle(sink)
	C.gpu_set_uncaptured(rawDevice(d), C.uintptr_t(h))
	return h
}

// scoped runs fn inside validation and out-of-memory error scopes and
// returns the first error either scope caught, wrapped with op.
func scoped(d *wgpu.Device, op string, fn func()) error {
	var first error
	sink := errorSink(func(typ wgpu.ErrorType, msg string) {
		if first == nil {
			first = fmt.Errorf("%s: %s: %s", op, typ, msg)
		}
	})
	h := cgo.NewHandle(sink)
	defer h.Delete()
	raw := rawDevice(d)
	C.gpu_push_scope(raw, filterOutOfMemory)
	C.gpu_push_scope(raw, filterValidation)
	fn()
	C.gpu_pop_scope(raw, C.uintptr_t(h))
	C.gpu_pop_scope(raw, C.uintptr_t(h))
	return first
}
