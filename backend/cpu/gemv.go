package cpu

import "github.com/ia3/ia3/backend"

// gemvRows is the most rows of A for which run skips packing and streams B
// once instead: token-by-token generation, where packing the whole weight
// for one row would cost more than the product itself.
const gemvRows = 4

// gemvChunk is the number of output columns one task of the streaming path
// computes; its slice of B stays in cache while every row of A passes over
// it.
const gemvChunk = 64

// canStream reports whether the streaming path applies: few rows, and B
// contiguous along k (a weight read (out, in)) or along n.
func (g *gemm) canStream() bool {
	return g.m <= gemvRows && (g.b.rs == 1 || g.b.cs == 1)
}

// stream computes C for a few rows of A by reading B once: dot products
// along contiguous rows of a transposed B, or row updates along contiguous
// rows of a plain one.
func (g *gemm) stream(be *Backend, parallel bool) {
	alpha := g.alpha
	if alpha == 0 {
		alpha = 1
	}
	// Rows of A, scaled, made contiguous.
	rows := make([]float32, g.m*g.k)
	for i := range g.m {
		dst := rows[i*g.k : (i+1)*g.k]
		s := g.a.colScale.row(g.a.index, i)
		for k := range dst {
			v := g.a.f[i*g.a.rs+k*g.a.cs]
			if s != nil {
				v *= s[k]
			}
			dst[k] = alpha * v
		}
	}
	chunks := (g.n + gemvChunk - 1) / gemvChunk
	work := func(lo, hi int) {
		for c := lo; c < hi; c++ {
			j0, j1 := c*gemvChunk, min((c+1)*gemvChunk, g.n)
			if g.b.rs == 1 {
				g.dots(rows, j0, j1)
			} else {
				g.updates(rows, j0, j1)
			}
			if g.epilogue != nil {
				g.epilogue(0, g.m, j0, j1)
			}
		}
	}
	if parallel {
		be.parallelFor(chunks, g.m*g.k*gemvChunk, work)
	} else {
		work(0, chunks)
	}
}

// dots sets C[i, j] = rows[i] · B[:, j] for a B whose columns are
// contiguous (B[k, j] at j·cs + k).
func (g *gemm) dots(rows []float32, j0, j1 int) {
	col := make([]float32, g.k)
	for j := j0; j < j1; j++ {
		off := j * g.b.cs
		var bcol []float32
		switch g.b.dtype {
		case backend.F16, backend.BF16:
			widen(col, g.b.h[off:off+g.k], g.b.dtype)
			bcol = col
		case backend.Q8_0, backend.NF4:
			g.b.q.Row(col, j, 0)
			bcol = col
		default:
			bcol = g.b.f[off : off+g.k]
		}
		for i := range g.m {
			g.c[i*g.ldc+j] = dot(rows[i*g.k:(i+1)*g.k], bcol)
		}
	}
}

// updates sets C[i, j0:j1] = Σ_k rows[i][k]·B[k, j0:j1] for a B whose rows
// are contiguous (B[k, j] at k·rs + j).
func (g *gemm) updates(rows []float32, j0, j1 int) {
	seg := make([]float32, j1-j0)
	for i := range g.m {
		clear(g.c[i*g.ldc+j0 : i*g.ldc+j1])
	}
	for k := range g.k {
		off := k*g.b.rs + j0
		var brow []float32
		switch g.b.dtype {
		case backend.F16, backend.BF16:
			widen(seg, g.b.h[off:off+len(seg)], g.b.dtype)
			brow = seg
		case backend.Q8_0, backend.NF4:
			g.b.q.Row(seg, k, j0)
			brow = seg
		default:
			brow = g.b.f[off : off+len(seg)]
		}
		for i := range g.m {
			axpy(g.c[i*g.ldc+j0:i*g.ldc+j1], brow, rows[i*g.k+k])
		}
	}
}

// dot returns x·y with four accumulators, summed pairwise at the end.
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	for len(x) >= 4 && len(y) >= 4 {
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		x, y = x[4:], y[4:]
	}
	for i, v := range x {
		s0 += v * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy sets dst += a·x.
func axpy(dst, x []float32, a float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += a * v
	}
}
