//go:build !amd64 || purego

package cpu

// expShiftedVec has no vector kernel on this architecture (or with the
// purego tag): the caller computes every element.
func expShiftedVec(dst, x []float32, shift float32) int { return 0 }
