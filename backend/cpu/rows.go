package cpu

import "math"

// Row kernels shared by the memory-bound operations. Each is a plain loop
// over a slice, unrolled four ways with independent accumulators so the
// additions of a reduction overlap, and written so the compiler proves the
// indices in bounds once per call rather than once per element.

// maxOf returns the largest element of x, or −Inf for an empty x. NaNs are
// ignored unless every element is NaN.
func maxOf(x []float32) float32 {
	m0 := float32(math.Inf(-1))
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s := x[i : i+4 : i+4]
		m0, m1, m2, m3 = max32(m0, s[0]), max32(m1, s[1]), max32(m2, s[2]), max32(m3, s[3])
	}
	for ; i < len(x); i++ {
		m0 = max32(m0, x[i])
	}
	return max32(max32(m0, m1), max32(m2, m3))
}

// max32 is max without the NaN and signed-zero handling of the builtin,
// which keeps it a single compare and move.
func max32(a, b float32) float32 {
	if b > a {
		return b
	}
	return a
}

// expShifted sets dst[i] = exp(x[i] − shift) and returns their sum,
// accumulated in float64. The leading elements go through the vector kernel
// where the CPU has one (within 2 ULP of float32), the rest through
// math.Exp rounded once. dst may alias x.
func expShifted(dst, x []float32, shift float32) float64 {
	x = x[:len(dst)]
	for i := expShiftedVec(dst, x, shift); i < len(dst); i++ {
		dst[i] = float32(math.Exp(float64(x[i] - shift)))
	}
	return sum64(dst)
}

// scaleInto sets dst = a·x (dst may alias x).
func scaleInto(dst, x []float32, a float32) {
	x = x[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d, s := dst[i:i+4:i+4], x[i:i+4:i+4]
		d[0], d[1], d[2], d[3] = a*s[0], a*s[1], a*s[2], a*s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] = a * x[i]
	}
}

// sum64 returns Σx accumulated in float64.
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s := x[i : i+4 : i+4]
		s0 += float64(s[0])
		s1 += float64(s[1])
		s2 += float64(s[2])
		s3 += float64(s[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// dot64 returns Σ x⊙y accumulated in float64, each product exact.
func dot64(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}
