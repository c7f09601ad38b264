//go:build cgo && !nowebgpu

package gpu

import (
	"os"
	"path/filepath"
)

// withRuntimeDir runs fn (the creation of a wgpu instance) with
// XDG_RUNTIME_DIR naming a private empty directory when the environment
// does not set it to an absolute path, and restores the environment after.
//
// wgpu's OpenGL backend probes for a Wayland display by calling
// libwayland-client's wl_display_connect, which prints "error:
// XDG_RUNTIME_DIR is invalid or not set in the environment." on stderr when
// the variable is unset (a headless machine, CI, a container), once per
// instance. With a directory that holds no Wayland socket the probe fails
// silently and wgpu goes on to X11 and then to a surfaceless display, as it
// did before. The variable is changed only while the instance is created,
// and a directory the user set is never replaced.
func withRuntimeDir(fn func()) {
	const key = "XDG_RUNTIME_DIR"
	old, set := os.LookupEnv(key)
	if filepath.IsAbs(old) {
		fn()
		return
	}
	dir, err := os.MkdirTemp("", "ia3-runtime-")
	if err != nil {
		fn() // only the message is at stake
		return
	}
	defer os.Remove(dir)
	_ = os.Setenv(key, dir)
	defer func() {
		if set {
			_ = os.Setenv(key, old)
		} else {
			_ = os.Unsetenv(key)
		}
	}()
	fn()
}
