package cpu

import (
	"fmt"
	"os"
	"strings"
)

// kernelEnv names the environment variable that forces one matrix kernel
// (avx512, avx2, neon or generic) instead of the fastest this CPU runs.
const kernelEnv = "IA3_CPU_KERNEL"

// microKernel is the one signature every matrix micro-kernel has; the
// contract is kernel's (gemm_kernel.go).
type microKernel func(kb int, a, b, c []float32, ldc int, first bool)

// gemmArch is one CPU's matrix kernel and the blocking that suits it, after
// BLIS's per-architecture context: the micro-kernel computes an mr×nr tile
// of C; k is cut into kc-deep slices; each task packs a strip of B at most
// nc columns wide and multiplies each mr-row micro-panel of packed A (in
// mc-row blocks) with the whole strip.
type gemmArch struct {
	name   string
	kernel microKernel
	// transpose8, where set, packs eight k-contiguous columns of B into a
	// k-major panel (d[k·ldd+c] = s[c·lds+k]) for the largest multiple of 8
	// of kb, returning how many k it packed: packB's transposed-weight path.
	transpose8 func(d []float32, ldd int, s []float32, lds int, kb int) int
	// copyRows, where set, packs panels nr-column panels of a row-major
	// matrix into k-major panels ldd floats apart (d[q·ldd+k·nr+c] =
	// s[k·lds+q·nr+c]) with nr a multiple of 8: packB's plain path.
	copyRows   func(d []float32, ldd int, s []float32, lds int, kb, panels, nr int)
	mr, nr     int
	mc, kc, nc int
	// kcB is the kc of the order that keeps the B micro-panel in L1 (see
	// blocking); 0 means kc.
	kcB int
}

// aInL1Rows is the fewest rows of C for which strip keeps the A
// micro-panel in L1 and streams B: tall products (the n = 512…2048
// squares) gain from walking C band by band, while the 128-row projections
// ran as fast or faster with the B micro-panel held in L1 and move fewer
// bytes from L2 that way (single-core and two-core runs on the 2-core
// Xeon, 2026-12-06).
const aInL1Rows = 256

// blocking returns the depth of the k slices and the loop order for a
// product with m rows of C: aInL1 when m ≥ aInL1Rows.
func (ar *gemmArch) blocking(m int) (kc int, aInL1 bool) {
	if m >= aInL1Rows || ar.kcB == 0 {
		return ar.kc, m >= aInL1Rows
	}
	return ar.kcB, false
}

// maxTile bounds mr·nr over every kernel, sizing the edge kernel's scratch
// tile.
const maxTile = 12 * 32

// genericArch is the pure-Go kernel: the reference, and the fallback on
// CPUs without a faster one.
var genericArch = gemmArch{name: "generic", kernel: kernel, mr: mr, nr: nr, mc: 64, kc: 256, nc: 1024}

// availableArchs lists the kernels this CPU runs, fastest first; generic is
// always last.
func availableArchs() []gemmArch {
	return append(simdArchs(), genericArch)
}

// knownKernels lists every kernel name on any architecture.
var knownKernels = []string{"avx512", "avx2", "neon", "generic"}

// selectArch returns the kernel named by name, or the fastest available
// when name is empty. An unknown name, or one this CPU cannot run, is an
// error that lists the choices.
func selectArch(name string) (gemmArch, error) {
	avail := availableArchs()
	if name == "" {
		return avail[0], nil
	}
	var names []string
	for _, a := range avail {
		if a.name == name {
			return a, nil
		}
		names = append(names, a.name)
	}
	for _, k := range knownKernels {
		if k == name {
			return gemmArch{}, fmt.Errorf("cpu: %s=%s: this CPU cannot run the %s kernel (it runs %s)", kernelEnv, name, name, strings.Join(names, ", "))
		}
	}
	return gemmArch{}, fmt.Errorf("cpu: %s=%q: unknown kernel (known: %s; this CPU runs %s)", kernelEnv, name, strings.Join(knownKernels, ", "), strings.Join(names, ", "))
}

// archFromEnv selects the kernel named by IA3_CPU_KERNEL, or the fastest.
func archFromEnv() (gemmArch, error) {
	return selectArch(strings.TrimSpace(os.Getenv(kernelEnv)))
}

// checkPanels panics, as an out-of-range index would, unless a, b and c
// hold the panels an mr×nr assembly kernel reads and the tile it writes:
// the bounds checks Go code gets for free.
func checkPanels(kb int, a, b, c []float32, ldc, mr, nr int) {
	_ = a[:mr*kb]
	_ = b[:nr*kb]
	_ = c[:(mr-1)*ldc+nr]
}
