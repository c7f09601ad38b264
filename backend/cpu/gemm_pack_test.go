package cpu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ia3/ia3/backend"
)

// TestPackLayouts packs A and B with every kernel this CPU has, over depths
// that are and are not multiples of 8, matrices whose edge cuts a panel and
// alpha 1 and 0.5, and checks each packed value against its definition:
// d[p·mr·kb + k·mr + r] = alpha·A[p·mr+r, pc+k] (0 past m) for A, and
// d[q·nr·kb + k·nr + c] = B[pc+k, jc+q·nr+c] (0 past nb) for B, stored plain
// or transposed.
func TestPackLayouts(t *testing.T) {
	for _, ar := range availableArchs() {
		for _, kb := range []int{1, 8, 13, 64} {
			for _, alpha := range []float32{1, 0.5} {
				t.Run(fmt.Sprintf("%s/kb%d/alpha%v", ar.name, kb, alpha), func(t *testing.T) {
					checkPackA(t, &ar, kb, alpha)
					checkPackB(t, &ar, kb)
				})
			}
		}
	}
}

func checkPackA(t *testing.T, ar *gemmArch, kb int, alpha float32) {
	const pc = 3
	m := 2*ar.mr + 1
	lda := pc + kb + 5
	src := random(4, m*lda)
	for _, transposed := range []bool{false, true} {
		a := operand{f: src, dtype: backend.F32, rs: lda, cs: 1}
		if transposed {
			// The same values stored column-major: A[i, k] at k·m + i.
			a = operand{f: make([]float32, lda*m), dtype: backend.F32, rs: 1, cs: m}
			for i := range m {
				for k := range lda {
					a.f[k*m+i] = src[i*lda+k]
				}
			}
		}
		panels := (m + ar.mr - 1) / ar.mr
		d := make([]float32, panels*ar.mr*kb)
		packA(d, a, ar, alpha, pc, kb, m, 0, panels)
		for p := range panels {
			for k := range kb {
				for r := range ar.mr {
					want := float32(0)
					if i := p*ar.mr + r; i < m {
						want = alpha * src[i*lda+pc+k]
					}
					assert.Equal(t, want, d[p*ar.mr*kb+k*ar.mr+r], "A transposed=%v panel %d k %d row %d", transposed, p, k, r)
				}
			}
		}
	}
}

func checkPackB(t *testing.T, ar *gemmArch, kb int) {
	const pc, jc = 2, 1
	nb := 2*ar.nr + 3
	k, n := pc+kb+4, jc+nb+2
	src := random(5, k*n) // B[k, j] at k·n + j
	for _, transposed := range []bool{false, true} {
		b := operand{f: src, dtype: backend.F32, rs: n, cs: 1}
		if transposed {
			b = operand{f: make([]float32, k*n), dtype: backend.F32, rs: 1, cs: k}
			for p := range k {
				for j := range n {
					b.f[j*k+p] = src[p*n+j]
				}
			}
		}
		panels := (nb + ar.nr - 1) / ar.nr
		d := make([]float32, panels*ar.nr*kb)
		packB(d, b, ar, pc, kb, jc, nb, 0, panels)
		for q := range panels {
			for p := range kb {
				for c := range ar.nr {
					want := float32(0)
					if j := q*ar.nr + c; j < nb {
						want = src[(pc+p)*n+jc+j]
					}
					assert.Equal(t, want, d[q*ar.nr*kb+p*ar.nr+c], "B transposed=%v panel %d k %d col %d", transposed, q, p, c)
				}
			}
		}
	}
}
