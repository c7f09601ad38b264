package cpu

import (
	"sync"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// operand is a read-only strided matrix: element (r, c) is at r·rs + c·cs of
// f (F32) or of h (F16 or BF16 bits, widened while packing). A quantized
// operand (Q8_0, NF4; B only, read transposed: rs = 1) is q, whose row c
// holds column c of the operand, dequantized while packing.
type operand struct {
	f      []float32
	h      []uint16
	q      *quant.Matrix
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

// aPackLimit is the most floats of A packed at once: products whose whole A
// fits are packed in one pass before the workers start, so the only
// synchronisation is the start and end of the parallel strips; larger ones
// pack A a few kc slices at a time.
const aPackLimit = 1 << 21

// run computes the product with the backend's kernel, in parallel over its
// workers when parallel is set and the product is large enough. The loops
// are Goto's, arranged so the workers share nothing but packed A: A is
// packed (in parallel) for as much of k as aPackLimit allows; then each
// task owns a strip of C's columns and, for every kc slice of k, packs its
// strip of B and runs the micro-kernel over mc-row blocks of it
// (g.strip). The epilogue runs on each strip once its last slice is done.
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
	workers := 1
	if parallel {
		workers = be.workers
	}
	kc, aInL1 := ar.blocking(g.m)
	if g.k > kc {
		// Equal slices, as OpenBLAS cuts k: 512 as 256 + 256 rather than
		// 384 + 128, whose short slice would pay a whole pass over C.
		s := (g.k + kc - 1) / kc
		kc = min(kc, roundUp((g.k+s-1)/s, 8))
	}
	ka := g.k
	if g.m*g.k > aPackLimit {
		ka = max(kc, aPackLimit/g.m/kc*kc)
	}
	aPanels := (g.m + ar.mr - 1) / ar.mr
	apBuf := packBuffer(&be.packsA, aPanels*ar.mr*min(ka, g.k))
	defer be.packsA.Put(apBuf)
	nt := ar.stripWidth(g.n, workers, aInL1)
	strips := (g.n + nt - 1) / nt
	// k = 0 still takes one pass, so C is stored and the epilogue runs.
	for p0 := 0; p0 < max(g.k, 1); p0 += ka {
		kaB := min(ka, g.k-p0)
		ap := (*apBuf)[:aPanels*ar.mr*kaB]
		pack := func(lo, hi int) { packA(ap, g.a, ar, alpha, p0, kaB, g.m, lo, hi) }
		compute := func(lo, hi int) {
			// One pooled buffer holds the B strip and the edge scratch tile.
			bs := nt * min(kaB, kc)
			bpBuf := packBuffer(&be.packsB, bs+maxTile)
			defer be.packsB.Put(bpBuf)
			bp, tmp := (*bpBuf)[:bs], (*bpBuf)[bs:]
			for s := lo; s < hi; s++ {
				g.strip(ar, kc, aInL1, ap, kaB, p0, bp, tmp, s*nt, min(nt, g.n-s*nt))
			}
		}
		if !parallel {
			pack(0, aPanels)
			compute(0, strips)
			continue
		}
		be.parallelFor2(aPanels, ar.mr*kaB, pack, strips, g.m*nt*kaB, compute)
	}
}

// stripWidth splits n columns into strips of whole nr-wide panels: a
// multiple of workers strips, at most four per worker (enough to even out
// uneven progress), none wider than nc. With aInL1 (tall products) at most
// two per worker: every strip streams all of packed A past its B panels, so
// wider strips read A from L3 half as often; on the 2-core Xeon, n = 1024
// and 2048 gained 3–7% against four strips per worker once the team's
// helpers start together (docs/measurements/cpu-2026-12-06b).
func (ar *gemmArch) stripWidth(n, workers int, aInL1 bool) int {
	panels := (n + ar.nr - 1) / ar.nr
	perWorker := 4
	if aInL1 {
		perWorker = 2
	}
	tasks := min(perWorker*workers, panels)
	if tasks > workers {
		tasks -= tasks % workers
	}
	per := (panels + tasks - 1) / tasks
	return min(per*ar.nr, ar.nc)
}

// strip computes columns [j0, j0+w) of C over the ka-deep slice of k that
// starts at p0 and is packed in ap (panels mr·ka apart): for each kc slice
// it packs the strip of B into bp, then runs the micro-kernel over every
// (A micro-panel, B micro-panel) pair in one of two orders (see blocking).
// With aInL1, each A micro-panel stays in L1 while the strip's B
// micro-panels stream past it from L2, the kernel walking one band of mr
// rows of C left to right (as BLIS does on Skylake-X). Otherwise each B
// micro-panel stays in L1 while the mc-row block's A micro-panels stream
// past it, which moves fewer bytes from L2 but sweeps C down the strip.
// tmp is the edge tiles' scratch.
func (g *gemm) strip(ar *gemmArch, kc int, aInL1 bool, ap []float32, ka, p0 int, bp, tmp []float32, j0, w int) {
	mr, nr := ar.mr, ar.nr
	panels := (w + nr - 1) / nr
	for pc := 0; pc < max(ka, 1); pc += kc {
		kb := min(kc, ka-pc)
		first, last := p0+pc == 0, p0+pc+kb >= g.k
		bs := bp[:panels*nr*kb]
		packB(bs, g.b, ar, p0+pc, kb, j0, w, 0, panels)
		tile := func(i, q, i1 int) {
			off := (i/mr)*mr*ka + pc*mr
			apan := ap[off : off+mr*kb]
			rows := min(mr, i1-i)
			bpan := bs[q*nr*kb : (q+1)*nr*kb]
			j := j0 + q*nr
			cols := min(nr, j0+w-j)
			c := g.c[i*g.ldc+j:]
			if rows == mr && cols == nr {
				ar.kernel(kb, apan, bpan, c, g.ldc, first)
			} else {
				ar.edge(kb, apan, bpan, c, g.ldc, rows, cols, first, tmp)
			}
		}
		for i0 := 0; i0 < g.m; i0 += ar.mc {
			i1 := min(i0+ar.mc, g.m)
			if aInL1 {
				for i := i0; i < i1; i += mr {
					for q := range panels {
						tile(i, q, i1)
					}
				}
				continue
			}
			for q := range panels {
				for i := i0; i < i1; i += mr {
					tile(i, q, i1)
				}
			}
		}
		if last && g.epilogue != nil {
			g.epilogue(0, g.m, j0, j0+w)
		}
	}
}

// packBuffer returns a buffer of n floats from pool, or a new one when the
// pool has none large enough.
func packBuffer(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	buf := make([]float32, n)
	return &buf
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
