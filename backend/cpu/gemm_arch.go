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
// of C; a kc-deep panel of B up to nc columns wide is packed once and shared
// by the workers, each task multiplying an mc-row block of packed A with an
// nt-column strip of it.
type gemmArch struct {
	name           string
	kernel         microKernel
	mr, nr         int
	mc, kc, nc, nt int
}

// maxTile bounds mr·nr over every kernel, sizing the edge kernel's scratch
// tile.
const maxTile = 12 * 32

// genericArch is the pure-Go kernel: the reference, and the fallback on
// CPUs without a faster one.
var genericArch = gemmArch{name: "generic", kernel: kernel, mr: mr, nr: nr, mc: 64, kc: 256, nc: 2048, nt: 256}

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
