package cpu

// geluTanhInto sets dst = geluTanh(x): the leading elements through the
// vector kernel where the CPU has one (float32, within a few ULP), the rest
// through the float64 formula rounded once.
func geluTanhInto(dst, x []float32) {
	x = x[:len(dst)]
	for i := geluTanhVec(dst, x); i < len(dst); i++ {
		dst[i] = geluTanh(x[i])
	}
}

// geluTanhGradInto sets dst = dy ⊙ geluTanh′(x), as geluTanhInto does.
func geluTanhGradInto(dst, x, dy []float32) {
	x, dy = x[:len(dst)], dy[:len(dst)]
	for i := geluTanhGradVec(dst, x, dy); i < len(dst); i++ {
		dst[i] = dy[i] * geluTanhGrad(x[i])
	}
}
