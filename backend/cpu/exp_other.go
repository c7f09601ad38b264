//go:build !amd64 || purego

package cpu

// Without a vector kernel for this architecture (or with the purego tag)
// the callers compute every element in Go.

func expShiftedVec(dst, x []float32, shift float32) int { return 0 }

func geluTanhVec(dst, x []float32) int { return 0 }

func geluTanhGradVec(dst, x, dy []float32) int { return 0 }
