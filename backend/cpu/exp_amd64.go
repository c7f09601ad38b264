//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// hasAVX2FMA reports whether the vector kernels of exp_amd64.s can run: it
// is read from the CPU once and never changes.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The kernels below handle the first len(dst) &^ 7 elements; the other
// slices must be at least as long as dst.

//go:noescape
func expShiftAVX2(dst, x []float32, shift float32)

//go:noescape
func geluTanhAVX2(dst, x []float32)

//go:noescape
func geluTanhGradAVX2(dst, x, dy []float32)

// vecLen returns how many leading elements of dst a vector kernel handles:
// a multiple of 8, or 0 without AVX2 and FMA.
func vecLen(dst []float32) int {
	if !hasAVX2FMA {
		return 0
	}
	return len(dst) &^ 7
}

// expShiftedVec computes the leading elements of expShifted with the
// vector kernel and returns how many it did.
func expShiftedVec(dst, x []float32, shift float32) int {
	n := vecLen(dst)
	if n > 0 {
		expShiftAVX2(dst[:n], x[:n], shift)
	}
	return n
}

// geluTanhVec computes the leading elements of geluTanhInto and returns how
// many it did.
func geluTanhVec(dst, x []float32) int {
	n := vecLen(dst)
	if n > 0 {
		geluTanhAVX2(dst[:n], x[:n])
	}
	return n
}

// geluTanhGradVec computes the leading elements of geluTanhGradInto and
// returns how many it did.
func geluTanhGradVec(dst, x, dy []float32) int {
	n := vecLen(dst)
	if n > 0 {
		geluTanhGradAVX2(dst[:n], x[:n], dy[:n])
	}
	return n
}
