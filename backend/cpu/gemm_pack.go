package cpu

import "github.com/ia3/ia3/backend"

// packA copies alpha·A[rows, pc:pc+kb] (each row scaled by its colScale
// vector first) into k-major mr-row panels lo..hi-1 (d[k·mr+r]), padding
// rows past m with zeros: the A side of the micro-kernel contract.
func packA(dst []float32, a operand, ar *gemmArch, alpha float32, pc, kb, m, lo, hi int) {
	mr := ar.mr
	for p := lo; p < hi; p++ {
		d := dst[p*mr*kb : (p+1)*mr*kb]
		if a.cs == 1 && a.colScale == nil && ar.transpose8 != nil && mr >= 8 && (p+1)*mr <= m {
			// Row-major A, the common case: eight rows at a time through
			// the 8×8 transpose (the last eight overlapping the previous
			// ones when mr is not a multiple of 8: the same values twice).
			packRows8(d, a.f[p*mr*a.rs+pc:], a.rs, ar, alpha, kb)
			continue
		}
		if a.rs == 1 && a.colScale == nil && (p+1)*mr <= m {
			// A read transposed: the panel's rows lie side by side.
			for k := range kb {
				src := a.f[(pc+k)*a.cs+p*mr:]
				dk := d[k*mr : (k+1)*mr]
				for r := range dk {
					dk[r] = alpha * src[r]
				}
			}
			continue
		}
		for r := range mr {
			i := p*mr + r
			if i >= m {
				zeroLane(d, mr, r, kb)
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

// packB copies B[pc:pc+kb, jc:jc+nb] into k-major nr-column panels lo..hi-1
// (d[k·nr+j]), widening F16/BF16, dequantizing Q8_0/NF4 and padding
// columns past nb with zeros:
// the B side of the micro-kernel contract. A transposed F32 B (a weight
// read (out, in)) goes through the arch's 8×8 transpose where it has one.
func packB(dst []float32, b operand, ar *gemmArch, pc, kb, jc, nb, lo, hi int) {
	nr := ar.nr
	if full := min(hi, nb/nr); b.cs == 1 && b.dtype == backend.F32 && full > lo {
		// B's rows are contiguous: each k of a panel is one copy of nr
		// values, done row by row so each row of B is read once, in order.
		if ar.copyRows != nil {
			ar.copyRows(dst[lo*nr*kb:], nr*kb, b.f[pc*b.rs+jc+lo*nr:], b.rs, kb, full-lo, nr)
		} else {
			for k := range kb {
				row := b.f[(pc+k)*b.rs+jc:]
				for q := lo; q < full; q++ {
					o := q*nr*kb + k*nr
					copy(dst[o:o+nr], row[q*nr:])
				}
			}
		}
		lo = full
	}
	if b.q != nil && b.cs == 1 {
		// A quantized weight read as is (B = W, [K, N]: the backward's
		// dx = dy·W): each k of a panel is nr consecutive values of row
		// pc+k, dequantized straight into place.
		for q := lo; q < hi; q++ {
			d := dst[q*nr*kb : (q+1)*nr*kb]
			j := jc + q*nr
			w := min(nr, nb-q*nr)
			for k := range kb {
				b.q.Row(d[k*nr:k*nr+w], pc+k, j)
				clear(d[k*nr+w : (k+1)*nr])
			}
		}
		return
	}
	for q := lo; q < hi; q++ {
		d := dst[q*nr*kb : (q+1)*nr*kb]
		if b.rs == 1 && b.dtype == backend.F32 && ar.transpose8 != nil && (q+1)*nr <= nb {
			off := pc + (jc+q*nr)*b.cs
			done := 0
			for c := 0; c < nr; c += 8 {
				done = ar.transpose8(d[c:], nr, b.f[off+c*b.cs:], b.cs, kb)
			}
			for c := range nr {
				src := b.f[off+c*b.cs : off+c*b.cs+kb]
				for k := done; k < kb; k++ {
					d[k*nr+c] = src[k]
				}
			}
			continue
		}
		for c := range nr {
			j := q*nr + c
			if j >= nb {
				zeroLane(d, nr, c, kb)
				continue
			}
			off := pc*b.rs + (jc+j)*b.cs
			switch b.dtype {
			case backend.Q8_0, backend.NF4:
				// B[k, j] = W[j, k]: lane c is row jc+j of the weight.
				b.q.RowStrided(d[c:], nr, jc+j, pc, kb)
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

// zeroLane zeroes lane l of a k-major panel width lanes wide: the padding
// of a panel that runs past the matrix's edge.
func zeroLane(d []float32, width, l, kb int) {
	for k := range kb {
		d[k*width+l] = 0
	}
}

// packRows8 packs mr = ar.mr ≥ 8 rows of a row-major matrix (row r's
// element k at s[r·lds+k]) into a k-major panel d (d[k·mr+r]), times alpha,
// with the arch's 8×8 transpose for the largest multiple of 8 of kb.
func packRows8(d, s []float32, lds int, ar *gemmArch, alpha float32, kb int) {
	mr := ar.mr
	done := 0
	for r := 0; r < mr; r += 8 {
		r0 := min(r, mr-8)
		done = ar.transpose8(d[r0:], mr, s[r0*lds:], lds, kb)
	}
	for r := range mr {
		src := s[r*lds : r*lds+kb]
		for k := done; k < kb; k++ {
			d[k*mr+r] = src[k]
		}
	}
	if alpha != 1 {
		d = d[:mr*kb]
		for i := range d {
			d[i] *= alpha
		}
	}
}
