//go:build amd64

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// sgemmAVX512 is the AVX-512 micro-kernel (gemm_kernel_amd64.s): a 12×32
// tile of C in 24 zmm accumulators. Its Go loop is kernel with mr = 12,
// nr = 32. a, b and c point at the panels and tile of kernel's contract.
//
//go:noescape
func sgemmAVX512(kb int, a, b, c *float32, ldc int, first bool)

// kernelAVX512 checks the slice bounds the assembly relies on and runs it.
func kernelAVX512(kb int, a, b, c []float32, ldc int, first bool) {
	checkPanels(kb, a, b, c, ldc, 12, 32)
	sgemmAVX512(kb, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, first)
}

// sgemmAVX2 is the AVX2+FMA micro-kernel (gemm_kernel_amd64.s): a 6×16
// tile of C in 12 ymm accumulators, as BLIS's Haswell sgemm. Its Go loop is
// kernel with mr = 6, nr = 16.
//
//go:noescape
func sgemmAVX2(kb int, a, b, c *float32, ldc int, first bool)

// kernelAVX2 checks the slice bounds the assembly relies on and runs it.
func kernelAVX2(kb int, a, b, c []float32, ldc int, first bool) {
	checkPanels(kb, a, b, c, ldc, 6, 16)
	sgemmAVX2(kb, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, first)
}

// transpose8AVX2 packs eight columns of a column-contiguous matrix into
// k-major rows (gemm_kernel_amd64.s). Its Go loop: for k < kb (a multiple
// of 8), for c < 8: d[k·ldd+c] = s[c·lds+k].
//
//go:noescape
func transpose8AVX2(d *float32, ldd int, s *float32, lds int, kb int)

// transpose8 checks the bounds transpose8AVX2 relies on and runs it over
// the largest multiple of 8 of kb, returning how many k it packed.
func transpose8(d []float32, ldd int, s []float32, lds int, kb int) int {
	kb8 := kb &^ 7
	if kb8 == 0 {
		return 0
	}
	_ = d[:(kb8-1)*ldd+8]
	_ = s[:7*lds+kb8]
	transpose8AVX2(unsafe.SliceData(d), ldd, unsafe.SliceData(s), lds, kb8)
	return kb8
}

// copyRowsAVX packs panels of a row-major matrix (gemm_kernel_amd64.s).
// Its Go loop: for k < kb, for q < panels, copy the vecs·8 floats at
// s[k·lds+q·vecs·8:] to d[q·ldd+k·vecs·8:].
//
//go:noescape
func copyRowsAVX(d *float32, ldd int, s *float32, lds int, kb, panels, vecs int)

// copyRows checks the bounds copyRowsAVX relies on and runs it: the
// gemmArch.copyRows of both amd64 kernels.
func copyRows(d []float32, ldd int, s []float32, lds int, kb, panels, nr int) {
	if kb == 0 || panels == 0 {
		return
	}
	_ = d[:(panels-1)*ldd+kb*nr]
	_ = s[:(kb-1)*lds+panels*nr]
	copyRowsAVX(unsafe.SliceData(d), ldd, unsafe.SliceData(s), lds, kb, panels, nr/8)
}

// simdArchs lists the assembly kernels this CPU runs, fastest first. The
// AVX-512 tile is 12 rows × 32 columns. Tall products keep the A
// micro-panel in L1, 18 KiB at kc = 384 (L1 is 48 KiB on the Xeons
// measured), while B micro-panels stream from a strip of at most nc = 768
// columns, 1.1 MiB, in L2 (2 MiB). Short ones keep the 32 KiB B
// micro-panel in L1 at kcB = 256 while the A micro-panels of an mc = 480
// row block (a multiple of both tiles' mr, 480 KiB) stream from L2. The
// AVX2 tile is 6 × 16, with 9 and 16 KiB micro-panels.
func simdArchs() []gemmArch {
	var archs []gemmArch
	if cpu.X86.HasAVX512F {
		archs = append(archs, gemmArch{name: "avx512", kernel: kernelAVX512, transpose8: transpose8, copyRows: copyRows, mr: 12, nr: 32, mc: 480, kc: 384, nc: 768, kcB: 256})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		archs = append(archs, gemmArch{name: "avx2", kernel: kernelAVX2, transpose8: transpose8, copyRows: copyRows, mr: 6, nr: 16, mc: 480, kc: 384, nc: 768, kcB: 256})
	}
	return archs
}
