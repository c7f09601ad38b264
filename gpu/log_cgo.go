//go:build cgo && !nowebgpu

package gpu

/*
#include <stdint.h>

// wgpu-native's log hook (webgpu.h of wgpu-native 0.17; the level is a
// 32-bit enum). The go-webgpu binding installs one that prints to stderr;
// this one replaces it.
typedef void (*gpuLogCallback)(uint32_t level, char const *message, void *userdata);
void wgpuSetLogCallback(gpuLogCallback callback, void *userdata);
void wgpuSetLogLevel(uint32_t level);

extern void gpuLogGo(uint32_t level, char *message, void *userdata);

static void gpu_set_log_callback(void) {
	wgpuSetLogCallback((gpuLogCallback)gpuLogGo, 0);
}
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"unsafe"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// wgpu-native's messages go to log/slog (the binding's own hook prints them
// to stderr, where every command showed "[wgpu] [Warn] No config found!").
func init() { C.gpu_set_log_callback() }

//export gpuLogGo
func gpuLogGo(level C.uint32_t, msg *C.char, _ unsafe.Pointer) {
	text := strings.TrimSpace(C.GoString(msg))
	slog.Log(context.Background(), slogLevel(wgpu.LogLevel(level), text), text, "from", "wgpu")
}

// wgpuNoise are wgpu warnings that say nothing a user can act on; they are
// logged at debug level.
var wgpuNoise = []string{
	// The OpenGL backend looks for an EGL config with a window surface
	// first; headless, it then runs surfaceless, which compute needs.
	"No config found!",
}

// slogLevel maps a wgpu message's level to slog's: errors stay errors,
// warnings stay warnings unless they are noise, the rest is debug.
func slogLevel(level wgpu.LogLevel, text string) slog.Level {
	switch level {
	case wgpu.LogLevel_Error:
		return slog.LevelError
	case wgpu.LogLevel_Warn:
		for _, n := range wgpuNoise {
			if strings.Contains(text, n) {
				return slog.LevelDebug
			}
		}
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// setWgpuLogLevel has wgpu produce warnings and errors, and its info
// messages too when slog's default logger keeps debug records (wgpu's own
// debug and trace levels log every call).
func setWgpuLogLevel() {
	level := wgpu.LogLevel_Warn
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		level = wgpu.LogLevel_Info
	}
	C.wgpuSetLogLevel(C.uint32_t(level))
}
