package cpu

import (
	"math"

	"github.com/ia3/ia3/backend"
)

// flashShape holds the dimensions of one Attention call and its options'
// tensors, shared by the forward and the backward.
type flashShape struct {
	b, h, hkv, tq, tk, d int
	scale, softCap       float32
	o                    backend.AttentionOptions
	mask, bias           *tensor
}

// flashArgs resolves Attention's tensors and dimensions.
func (b *Backend) flashArgs(op string, qt, kt, vt backend.Tensor, o backend.AttentionOptions) (q, k, v *tensor, f flashShape, err error) {
	if q, err = b.tensorOf(op, "q", qt); err != nil {
		return
	}
	if k, err = b.tensorOf(op, "k", kt); err != nil {
		return
	}
	if v, err = b.tensorOf(op, "v", vt); err != nil {
		return
	}
	if f.mask, err = b.optTensorOf(op, "key_mask", o.KeyMask); err != nil {
		return
	}
	if f.bias, err = b.optTensorOf(op, "bias", o.Bias); err != nil {
		return
	}
	f.b, f.h, f.tq, f.d = q.shape[0], q.shape[1], q.shape[2], q.shape[3]
	f.hkv, f.tk = k.shape[1], k.shape[2]
	f.scale, f.softCap, f.o = o.Scale, o.SoftCap, o
	if f.scale == 0 {
		f.scale = 1
	}
	return
}

// keys returns the range [lo, n) of keys query i may see under the
// causal and sliding-window masks (n ≤ lo: none).
func (f *flashShape) keys(i int) (lo, n int) {
	n = f.tk
	if f.o.Causal {
		n = min(f.tk, max(i+f.tk-f.tq+1, 0))
	}
	if f.o.Window > 0 {
		lo = min(n, max(i+f.tk-f.tq-f.o.Window+1, 0))
	}
	return lo, n
}

// logits writes into dst[lo:n] the logits of query row (bi, hi, i) against
// keys lo..n−1: q·k·scale, soft-capped, biased, −Inf where the key mask
// drops the key. With th non-nil it also keeps tanh of the capped
// argument there (the cap's derivative is 1 − tanh²). It returns the
// largest logit (−Inf when every key is masked).
func (f *flashShape) logits(dst, th []float32, q, k *tensor, bi, hi, i, lo, n int) float32 {
	qr := q.f[((bi*f.h+hi)*f.tq+i)*f.d:][:f.d]
	kh := hi / (f.h / f.hkv)
	kb := (bi*f.hkv + kh) * f.tk * f.d
	var brow, mrow []float32
	if f.bias != nil {
		off := (hi*f.tq + i) * f.tk
		if len(f.bias.shape) == 4 {
			off = ((bi*f.h+hi)*f.tq + i) * f.tk
		}
		brow = f.bias.f[off : off+f.tk]
	}
	if f.mask != nil {
		mrow = f.mask.f[bi*f.tk : (bi+1)*f.tk]
	}
	negInf := float32(math.Inf(-1))
	mx := negInf
	for j := lo; j < n; j++ {
		s := dot(qr, k.f[kb+j*f.d:][:f.d]) * f.scale
		if f.softCap > 0 {
			t := float32(math.Tanh(float64(s / f.softCap)))
			s = f.softCap * t
			if th != nil {
				th[j] = t
			}
		}
		if brow != nil {
			s += brow[j]
		}
		if mrow != nil && mrow[j] == 0 {
			s = negInf
		}
		dst[j] = s
		mx = max(mx, s)
	}
	return mx
}

// Attention is fused scaled-dot-product attention (backend.Backend):
// each query row's logits live in a scratch row of Tk floats, normalised
// as Softmax normalises them, and are multiplied into v at once; only the
// row's log-sum-exp is kept.
func (b *Backend) Attention(qt, kt, vt backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, error) {
	const op = "attention"
	q, k, v, f, err := b.flashArgs(op, qt, kt, vt, o)
	if err != nil {
		return nil, nil, err
	}
	out := b.newF32(f.b, f.tq, f.h*f.d)
	lse := b.newF32(f.b, f.h, f.tq)
	b.parallelFor(f.b*f.h*f.tq, 2*f.tk*f.d, func(lo, hi int) {
		row := make([]float32, f.tk)
		for r := lo; r < hi; r++ {
			bi, h, i := r/(f.h*f.tq), r/f.tq%f.h, r%f.tq
			kh := h / (f.h / f.hkv)
			vb := (bi*f.hkv + kh) * f.tk * f.d
			dst := out.f[(bi*f.tq+i)*f.h*f.d+h*f.d:][:f.d]
			j0, n := f.keys(i)
			mx := float32(math.Inf(-1))
			if j0 < n {
				mx = f.logits(row, nil, q, k, bi, h, i, j0, n)
			}
			if math.IsInf(float64(mx), -1) {
				// Every key masked: Softmax's uniform row over all Tk keys.
				for j := 0; j < f.tk; j++ {
					axpy(dst, v.f[vb+j*f.d:][:f.d], 1/float32(f.tk))
				}
				lse.f[r] = backend.AttentionMaskedLSE
				continue
			}
			p := row[j0:n]
			sum := expShifted(p, p, mx)
			lse.f[r] = mx + float32(math.Log(sum))
			inv := float32(1 / sum)
			for j, pj := range p {
				if pj != 0 {
					axpy(dst, v.f[vb+(j0+j)*f.d:][:f.d], pj*inv)
				}
			}
		}
	})
	return out, lse, nil
}

// AttentionBackward returns dq, dk and dv of Attention (backend.Backend).
// Work is split by (batch, key head), so that the H/Hkv query heads that
// share a key head add into its dk and dv on one goroutine; each query
// row's probabilities are recomputed from lse.
func (b *Backend) AttentionBackward(qt, kt, vt, outt, lset, doutt backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, backend.Tensor, error) {
	const op = "attention_backward"
	q, k, v, f, err := b.flashArgs(op, qt, kt, vt, o)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := b.tensorOf(op, "out", outt)
	if err != nil {
		return nil, nil, nil, err
	}
	lse, err := b.tensorOf(op, "lse", lset)
	if err != nil {
		return nil, nil, nil, err
	}
	dout, err := b.tensorOf(op, "dout", doutt)
	if err != nil {
		return nil, nil, nil, err
	}
	dq, dk, dv := b.newF32(q.shape...), b.newF32(k.shape...), b.newF32(v.shape...)
	group := f.h / f.hkv
	b.parallelFor(f.b*f.hkv, group*f.tq*f.tk*f.d*4, func(lo, hi int) {
		p := make([]float32, f.tk)
		var th []float32
		if f.softCap > 0 {
			th = make([]float32, f.tk)
		}
		for u := lo; u < hi; u++ {
			bi, kh := u/f.hkv, u%f.hkv
			kb := (bi*f.hkv + kh) * f.tk * f.d
			for h := kh * group; h < (kh+1)*group; h++ {
				for i := 0; i < f.tq; i++ {
					r := (bi*f.h+h)*f.tq + i
					qr, dqr := q.f[r*f.d:][:f.d], dq.f[r*f.d:][:f.d]
					at := (bi*f.tq+i)*f.h*f.d + h*f.d
					or, gr := out.f[at:][:f.d], dout.f[at:][:f.d]
					delta := dot(gr, or)
					j0, n := f.keys(i)
					if lse.f[r] == backend.AttentionMaskedLSE {
						// A uniform row: every key has probability 1/Tk and
						// passes its gradient back, as SoftmaxBackward does.
						j0, n = 0, f.tk
						f.logits(p, th, q, k, bi, h, i, j0, n)
						for j := range p {
							p[j] = 1 / float32(f.tk)
						}
					} else if j0 < n {
						f.logits(p, th, q, k, bi, h, i, j0, n)
						l := lse.f[r]
						for j := j0; j < n; j++ {
							p[j] = float32(math.Exp(float64(p[j] - l)))
						}
					}
					for j := j0; j < n; j++ {
						pj := p[j]
						if pj == 0 {
							continue
						}
						kr, vr := k.f[kb+j*f.d:][:f.d], v.f[kb+j*f.d:][:f.d]
						ds := pj * (dot(gr, vr) - delta) * f.scale
						if th != nil {
							ds *= 1 - th[j]*th[j]
						}
						axpy(dqr, kr, ds)
						axpy(dk.f[kb+j*f.d:][:f.d], qr, ds)
						axpy(dv.f[kb+j*f.d:][:f.d], gr, pj)
					}
				}
			}
		}
	})
	return dq, dk, dv, nil
}
