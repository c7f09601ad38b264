package cpu

import "github.com/ia3/ia3/backend"

// operand is a read-only strided matrix: element (r, c) is at r·rs + c·cs of
// f (F32) or of h (F16 or BF16 bits, widened while packing).
type operand struct {
	f      []float32
	h      []uint16
	dtype  backend.DType
	rs, cs int
	// colScale, for A only, multiplies row r element-wise by the vector
	// colScale.row(index, r) while packing: Linear's InScale, fused.
	colScale *scale
	index    []int32
}

// gemm describes C = alpha·A·B for A m×k and B k×n, with C row-major (rows
// ldc apart) and overwritten. epilogue, when set, runs once on every finished
// block of C: rows [i0, i1), columns [j0, j1).
type gemm struct {
	m, n, k  int
	a, b     operand
	alpha    float32
	c        []float32
	ldc      int
	epilogue func(i0, i1, j0, j1 int)
}

// run computes the product with the backend's kernel, in parallel over its
// workers when parallel is set and the product is large enough. The loops
// are Goto's: nc-wide column panels of B (jc), kc-deep slices of k (pc)
// whose B panel and whole A are packed once, then a grid of mc×nt tasks of
// C shared by the workers, each running the micro-kernel over its tiles.
func (g *gemm) run(be *Backend, parallel bool) {
	if g.canStream() {
		g.stream(be, parallel)
		return
	}
	ar := &be.arch
	alpha := g.alpha
	if alpha == 0 {
		alpha = 1
	}
	kc := min(g.k, ar.kc)
	aPanels := (g.m + ar.mr - 1) / ar.mr
	apBuf := be.packBuffer(aPanels * ar.mr * kc)
	bpBuf := be.packBuffer(roundUp(min(g.n, ar.nc), ar.nr) * kc)
	defer be.packs.Put(apBuf)
	defer be.packs.Put(bpBuf)
	forEach := func(n, cost int, fn func(lo, hi int)) {
		if parallel {
			be.parallelFor(n, cost, fn)
		} else {
			fn(0, n)
		}
	}
	for jc := 0; jc < g.n; jc += ar.nc {
		nb := min(ar.nc, g.n-jc)
		bPanels := (nb + ar.nr - 1) / ar.nr
		// k = 0 still takes one pass, so C is stored and the epilogue runs.
		for pc := 0; pc < max(g.k, 1); pc += ar.kc {
			kb := min(ar.kc, g.k-pc)
			first, last := pc == 0, pc+kb >= g.k
			ap := (*apBuf)[:aPanels*ar.mr*kb]
			bp := (*bpBuf)[:bPanels*ar.nr*kb]
			forEach(bPanels, ar.nr*kb, func(lo, hi int) { packB(bp, g.b, ar.nr, pc, kb, jc, nb, lo, hi) })
			forEach(aPanels, ar.mr*kb, func(lo, hi int) { packA(ap, g.a, ar.mr, alpha, pc, kb, g.m, lo, hi) })
			rowBlocks := (g.m + ar.mc - 1) / ar.mc
			colStrips := (nb + ar.nt - 1) / ar.nt
			forEach(rowBlocks*colStrips, ar.mc*ar.nt*kb, func(lo, hi int) {
				for t := lo; t < hi; t++ {
					i0 := (t / colStrips) * ar.mc
					i1 := min(i0+ar.mc, g.m)
					j0 := jc + (t%colStrips)*ar.nt
					j1 := min(j0+ar.nt, jc+nb)
					g.block(ar, ap, bp, kb, jc, i0, i1, j0, j1, first)
					if last && g.epilogue != nil {
						g.epilogue(i0, i1, j0, j1)
					}
				}
			})
		}
	}
}

// block runs the micro-kernel over rows [i0, i1) and columns [j0, j1) of C
// for one packed kb-deep panel pair; jc is the first column the B panel
// holds. The nr-wide B micro-panel stays in L1 while the mr-row A
// micro-panels of the block stream past it from L2.
func (g *gemm) block(ar *gemmArch, ap, bp []float32, kb, jc, i0, i1, j0, j1 int, first bool) {
	mr, nr := ar.mr, ar.nr
	for j := j0; j < j1; j += nr {
		q := (j - jc) / nr
		bpan := bp[q*nr*kb : (q+1)*nr*kb]
		cols := min(nr, j1-j)
		for i := i0; i < i1; i += mr {
			apan := ap[(i/mr)*mr*kb : (i/mr+1)*mr*kb]
			rows := min(mr, i1-i)
			c := g.c[i*g.ldc+j:]
			if rows == mr && cols == nr {
				ar.kernel(kb, apan, bpan, c, g.ldc, first)
			} else {
				ar.edge(kb, apan, bpan, c, g.ldc, rows, cols, first)
			}
		}
	}
}

// packBuffer returns a pooled buffer of at least n floats.
func (be *Backend) packBuffer(n int) *[]float32 {
	if p, ok := be.packs.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	buf := make([]float32, n)
	return &buf
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
