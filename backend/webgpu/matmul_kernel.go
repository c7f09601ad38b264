package webgpu

import (
	"fmt"
	"os"
	"strings"
)

// MatMulKernelEnv names the environment variable that picks the tiled
// matmul kernel used by MatMul and Linear for large products, read once when
// a backend opens:
//
//   - "tile128": products with M and N both at least 128 use the
//     128×128-tile kernel (8×8 outputs per thread in registers), meant for
//     desktop and datacenter GPUs;
//   - "tile64": every tiled product uses the 64×64-tile kernel (4×4 outputs
//     per thread), the kernel of earlier versions;
//   - unset or "auto": tile128 on hardware adapters, tile64 on software
//     adapters (lavapipe, llvmpipe: adapter type "CPU"), where the large
//     kernel's 64 accumulators per thread run about half as fast.
//
// Thin products use their own kernels either way. The setting exists to
// compare the two on a given device (see BenchmarkMatMul) and as a fallback
// should the large kernel misbehave on some driver.
const MatMulKernelEnv = "IA3_WEBGPU_MATMUL"

// matmulKernel is the tiled matmul kernel choice of a backend.
type matmulKernel int

const (
	// matmulAuto picks by adapter type (see resolve); the zero value.
	matmulAuto matmulKernel = iota
	// matmulTile128 uses matmul_large for products of at least
	// mmLargeTile rows and columns.
	matmulTile128
	// matmulTile64 always uses the 64×64-tile kernel.
	matmulTile64
)

// String returns the setting's name as MatMulKernelEnv spells it.
func (k matmulKernel) String() string {
	switch k {
	case matmulTile64:
		return "tile64"
	case matmulTile128:
		return "tile128"
	}
	return "auto"
}

// matmulKernelFromEnv reads MatMulKernelEnv; an unknown value is an error
// naming the valid ones, so a typo does not silently measure the default.
func matmulKernelFromEnv() (matmulKernel, error) {
	return parseMatMulKernel(os.Getenv(MatMulKernelEnv))
}

// parseMatMulKernel parses a MatMulKernelEnv value ("" is auto).
func parseMatMulKernel(v string) (matmulKernel, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		return matmulAuto, nil
	case "tile128":
		return matmulTile128, nil
	case "tile64":
		return matmulTile64, nil
	}
	return 0, fmt.Errorf("webgpu: %s=%q: want tile64, tile128 or auto", MatMulKernelEnv, v)
}

// resolve turns auto into the kernel for an adapter of the given type
// (backend.DeviceInfo.Type): tile64 for software adapters ("CPU"), tile128
// otherwise. Explicit choices are kept.
func (k matmulKernel) resolve(adapterType string) matmulKernel {
	if k != matmulAuto {
		return k
	}
	if adapterType == "CPU" {
		return matmulTile64
	}
	return matmulTile128
}

// useLarge reports whether an M×N product runs the 128×128-tile kernel.
// Both sides must fill at least one large tile; below that most of each
// tile would be idle and the 64×64 kernel spreads the work over more
// workgroups.
func (k matmulKernel) useLarge(m, n int) bool {
	return k == matmulTile128 && m >= mmLargeTile && n >= mmLargeTile
}
