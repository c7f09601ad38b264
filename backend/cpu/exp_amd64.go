//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// hasAVX2FMA reports whether the vector exponential can run: it is read
// from the CPU once and never changes.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expShiftAVX2 sets dst[i] = exp(x[i] − shift) for the first len(dst) &^ 7
// elements; x must be at least as long as dst. It is in exp_amd64.s.
//
//go:noescape
func expShiftAVX2(dst, x []float32, shift float32)

// expShiftedVec computes the leading elements of expShifted with the
// vector kernel where the CPU has one, and returns how many it did (a
// multiple of 8, or 0).
func expShiftedVec(dst, x []float32, shift float32) int {
	n := len(dst) &^ 7
	if !hasAVX2FMA || n == 0 {
		return 0
	}
	expShiftAVX2(dst[:n], x[:n], shift)
	return n
}
