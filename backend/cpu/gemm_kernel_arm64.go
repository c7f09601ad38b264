//go:build arm64

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// sgemmNEON is the NEON micro-kernel (gemm_kernel_arm64.s): an 8×12 tile of
// C in 24 q-register accumulators. Its Go loop is kernel with mr = 8,
// nr = 12. a, b and c point at the panels and tile of kernel's contract.
//
//go:noescape
func sgemmNEON(kb int, a, b, c *float32, ldc int, first bool)

// kernelNEON checks the slice bounds the assembly relies on and runs it.
func kernelNEON(kb int, a, b, c []float32, ldc int, first bool) {
	checkPanels(kb, a, b, c, ldc, 8, 12)
	sgemmNEON(kb, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, first)
}

// simdArchs lists the NEON kernel (every arm64 CPU Go runs on has Advanced
// SIMD). Its 8×12 tile takes an 8 KiB A micro-panel at a kc of 256; mc is
// 480 rows (60 tiles), nc a multiple of 12. A transposed B is packed by the
// pure-Go loop.
func simdArchs() []gemmArch {
	if !cpu.ARM64.HasASIMD {
		return nil
	}
	return []gemmArch{{name: "neon", kernel: kernelNEON, mr: 8, nr: 12, mc: 480, kc: 256, nc: 1008}}
}
