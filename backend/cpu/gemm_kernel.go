package cpu

// The micro-kernel contract, after BLIS (docs/KernelsHowTo.md), holds for
// kernel below and for every assembly kernel with its signature
// (microKernel):
//
//	C := beta·C + A·B
//
// where A is a packed mr×kb panel laid out k-major (a[k·mr+r]), B a packed
// kb×nr panel laid out k-major (b[k·nr+j]) and C an mr×nr tile of a
// row-major matrix whose rows are ldc elements apart. beta is 0 when first
// is set, 1 otherwise; beta = 0 overwrites C without reading it, so C may
// hold NaN or garbage. kb may be 0 (then C := beta·C). The kernel always
// computes the whole mr×nr tile: edges of the matrix and the zero padding of
// short panels belong to packing (packA, packB) and to edge, which runs a
// kernel into a scratch tile and copies the part that exists.
//
// Micro-tile size of the pure-Go kernel. Two rows by four columns keeps the
// eight accumulators, two values of A and four of B within the sixteen
// floating-point registers amd64 and arm64 code may use, so the Go compiler
// holds the whole tile in registers (a larger tile spills and runs slower).
const (
	mr = 2
	nr = 4
)

// kernel is the pure-Go micro-kernel: the reference the assembly kernels are
// tested against, and the fallback where none runs. Slicing the panels down
// as the loop runs lets the compiler drop every bounds check.
func kernel(kb int, a, b, c []float32, ldc int, first bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:mr*kb]
	b = b[:nr*kb]
	// Two steps of k per iteration halve the loop overhead.
	for len(a) >= 2*mr && len(b) >= 2*nr {
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a0, a1 = a[2], a[3]
		b0, b1, b2, b3 = b[4], b[5], b[6], b[7]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a = a[2*mr:]
		b = b[2*nr:]
	}
	if len(a) >= mr && len(b) >= nr {
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r0 := c[:nr:nr]
	r1 := c[ldc : ldc+nr : ldc+nr]
	if first {
		r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
		r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
		return
	}
	r0[0] += c00
	r0[1] += c01
	r0[2] += c02
	r0[3] += c03
	r1[0] += c10
	r1[1] += c11
	r1[2] += c12
	r1[3] += c13
}

// edge runs the arch's kernel on a tile cut by the matrix's edge: the whole
// mr×nr product goes to the scratch tile tmp (maxTile floats, reused by the
// caller so no call allocates), and only its rows×cols corner is stored
// (first) or added into c.
func (ar *gemmArch) edge(kb int, a, b, c []float32, ldc, rows, cols int, first bool, tmp []float32) {
	ar.kernel(kb, a, b, tmp, ar.nr, true)
	for r := range rows {
		row := c[r*ldc : r*ldc+cols]
		src := tmp[r*ar.nr : r*ar.nr+cols]
		if first {
			copy(row, src)
			continue
		}
		for j, v := range src {
			row[j] += v
		}
	}
}
