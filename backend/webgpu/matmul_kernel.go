//go:build cgo && !nowebgpu

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
//   - unset or "auto": on hardware adapters the 128×128 tiles for products
//     that still give at least autoLargeMinTiles workgroups, else 64×64
//     (measured on an H100: 128×128 tiles run Llama-1.1B's 2048-row
//     projections about twice as fast, except the 2048→256 key/value ones,
//     32 workgroups, where 64×64 wins); tile64 on software adapters
//     (lavapipe, llvmpipe: adapter type "CPU"), where the large kernel's 64
//     accumulators per thread run about half as fast.
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
	// matmulAutoLarge is auto resolved on a hardware adapter: the large
	// kernel where it keeps enough workgroups busy (autoLargeMinTiles).
	matmulAutoLarge
)

// autoLargeMinTiles is the fewest 128×128 output tiles (over the whole
// batch) for which auto picks the large kernel on a hardware adapter.
const autoLargeMinTiles = 64

// String returns the setting's name as MatMulKernelEnv spells it.
func (k matmulKernel) String() string {
	switch k {
	case matmulTile64:
		return "tile64"
	case matmulTile128:
		return "tile128"
	}
	return "auto" // matmulAuto and its resolved form matmulAutoLarge
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
// (backend.DeviceInfo.Type): tile64 for software adapters ("CPU"),
// matmulAutoLarge otherwise. Explicit choices are kept.
func (k matmulKernel) resolve(adapterType string) matmulKernel {
	if k != matmulAuto {
		return k
	}
	if adapterType == "CPU" {
		return matmulTile64
	}
	return matmulAutoLarge
}

// useLarge reports whether a batch of M×N products runs the 128×128-tile
// kernel. Both sides must fill at least one large tile; below that most of
// each tile would be idle and the 64×64 kernel spreads the work over more
// workgroups. Auto also wants enough tiles to keep a large GPU busy.
func (k matmulKernel) useLarge(batch, m, n int) bool {
	if m < mmLargeTile || n < mmLargeTile {
		return false
	}
	switch k {
	case matmulTile128:
		return true
	case matmulAutoLarge:
		tiles := batch * ((m + mmLargeTile - 1) / mmLargeTile) * ((n + mmLargeTile - 1) / mmLargeTile)
		return tiles >= autoLargeMinTiles
	}
	return false
}
