package cpu

import "github.com/ia3/ia3/backend"

// Cache blocking of the matrix kernel: a kcBlock-deep panel of B (up to
// ncBlock columns) is packed once and shared by all workers; each task
// multiplies an mcBlock-row block of packed A with a ncTask-column strip of
// it, so the strip's nr-wide micro-panels stay in L1 while A streams from L2.
const (
	kcBlock = 256
	mcBlock = 64
	ncBlock = 2048
	ncTask  = 256
)

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

// run computes the product, in parallel over b's workers when parallel is
// set and the product is large enough.
func (g *gemm) run(be *Backend, parallel bool) {
	if g.canStream() {
		g.stream(be, parallel)
		return
	}
	alpha := g.alpha
	if alpha == 0 {
		alpha = 1
	}
	apBuf := be.packBuffer(roundUp(g.m, mr) * min(g.k, kcBlock))
	bpBuf := be.packBuffer(roundUp(min(g.n, ncBlock), nr) * min(g.k, kcBlock))
	defer be.packs.Put(apBuf)
	defer be.packs.Put(bpBuf)
	forEach := func(n, cost int, fn func(lo, hi int)) {
		if parallel {
			be.parallelFor(n, cost, fn)
		} else {
			fn(0, n)
		}
	}
	for jc := 0; jc < g.n; jc += ncBlock {
		nb := min(ncBlock, g.n-jc)
		bPanels := (nb + nr - 1) / nr
		for pc := 0; pc < g.k; pc += kcBlock {
			kb := min(kcBlock, g.k-pc)
			first, last := pc == 0, pc+kb == g.k
			ap := (*apBuf)[:roundUp(g.m, mr)*kb]
			bp := (*bpBuf)[:bPanels*nr*kb]
			forEach(bPanels, nr*kb, func(lo, hi int) { packB(bp, g.b, pc, kb, jc, nb, lo, hi) })
			aPanels := (g.m + mr - 1) / mr
			forEach(aPanels, mr*kb, func(lo, hi int) { packA(ap, g.a, alpha, pc, kb, g.m, lo, hi) })
			rowBlocks := (g.m + mcBlock - 1) / mcBlock
			colStrips := (nb + ncTask - 1) / ncTask
			forEach(rowBlocks*colStrips, mcBlock*ncTask*kb, func(lo, hi int) {
				for t := lo; t < hi; t++ {
					i0 := (t / colStrips) * mcBlock
					i1 := min(i0+mcBlock, g.m)
					j0 := jc + (t%colStrips)*ncTask
					j1 := min(j0+ncTask, jc+nb)
					g.block(ap, bp, kb, jc, i0, i1, j0, j1, first)
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
// holds.
func (g *gemm) block(ap, bp []float32, kb, jc, i0, i1, j0, j1 int, first bool) {
	for j := j0; j < j1; j += nr {
		q := (j - jc) / nr
		bpan := bp[q*nr*kb : (q+1)*nr*kb]
		cols := min(nr, j1-j)
		for i := i0; i < i1; i += mr {
			apan := ap[(i/mr)*mr*kb : (i/mr+1)*mr*kb]
			rows := min(mr, i1-i)
			c := g.c[i*g.ldc+j:]
			if rows == mr && cols == nr {
				kernel(kb, apan, bpan, c, g.ldc, first)
			} else {
				edgeKernel(kb, apan, bpan, c, g.ldc, rows, cols, first)
			}
		}
	}
}

// packA copies alpha·A[rows, pc:pc+kb] (each row scaled by its colScale
// vector first) into k-major mr-row panels lo..hi-1, padding rows past m
// with zeros.
func packA(dst []float32, a operand, alpha float32, pc, kb, m, lo, hi int) {
	for p := lo; p < hi; p++ {
		d := dst[p*mr*kb : (p+1)*mr*kb]
		for r := range mr {
			i := p*mr + r
			if i >= m {
				for k := range kb {
					d[k*mr+r] = 0
				}
				continue
			}
			src := a.f[i*a.rs+pc*a.cs:]
			if s := a.colScale.row(a.index, i); s != nil {
				s = s[pc : pc+kb]
				for k, v := range s {
					d[k*mr+r] = alpha * (src[k*a.cs] * v)
				}
				continue
			}
			if a.cs == 1 {
				src = src[:kb]
				for k, v := range src {
					d[k*mr+r] = alpha * v
				}
				continue
			}
			for k := range kb {
				d[k*mr+r] = alpha * src[k*a.cs]
			}
		}
	}
}

// packB copies B[pc:pc+kb, jc:jc+nb] into k-major nr-column panels lo..hi-1,
// widening F16/BF16 and padding columns past nb with zeros.
func packB(dst []float32, b operand, pc, kb, jc, nb, lo, hi int) {
	for q := lo; q < hi; q++ {
		d := dst[q*nr*kb : (q+1)*nr*kb]
		for c := range nr {
			j := q*nr + c
			if j >= nb {
				for k := range kb {
					d[k*nr+c] = 0
				}
				continue
			}
			off := pc*b.rs + (jc+j)*b.cs
			switch b.dtype {
			case backend.F16:
				for k := range kb {
					d[k*nr+c] = f16ToF32(b.h[off+k*b.rs])
				}
			case backend.BF16:
				for k := range kb {
					d[k*nr+c] = bf16ToF32(b.h[off+k*b.rs])
				}
			default:
				if b.rs == 1 {
					src := b.f[off : off+kb]
					for k, v := range src {
						d[k*nr+c] = v
					}
					continue
				}
				for k := range kb {
					d[k*nr+c] = b.f[off+k*b.rs]
				}
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
