package ref

import (
	"fmt"
	"math"
)

// AttentionOpts are Attention's options: Softmax's (Scale applies to q·kᵀ)
// plus Gemma 2's soft-cap.
type AttentionOpts struct {
	SoftmaxOpts
	// SoftCap > 0 replaces the scaled logits s by SoftCap·tanh(s/SoftCap)
	// before the bias and the masks.
	SoftCap float64
}

// attentionDims validates q [B, H, Tq, D], k and v [B, Hkv, Tk, D] and
// returns B, H, Hkv, Tq, Tk and D.
func attentionDims(op string, q, k, v T) (b, h, hkv, tq, tk, d int, err error) {
	for _, a := range []struct {
		name string
		t    T
	}{{"q", q}, {"k", k}, {"v", v}} {
		if err := a.t.valid(op, a.name); err != nil {
			return 0, 0, 0, 0, 0, 0, err
		}
		if len(a.t.Shape) != 4 {
			return 0, 0, 0, 0, 0, 0, fmt.Errorf("ref %s: %s %v, want 4 dimensions", op, a.name, a.t.Shape)
		}
	}
	b, h, tq, d = q.Shape[0], q.Shape[1], q.Shape[2], q.Shape[3]
	hkv, tk = k.Shape[1], k.Shape[2]
	if !sameShape(k.Shape, v.Shape) || k.Shape[0] != b || k.Shape[3] != d || hkv == 0 || h%hkv != 0 {
		return 0, 0, 0, 0, 0, 0, fmt.Errorf("ref %s: q %v, k %v, v %v: want k, v [B, Hkv, Tk, D] with H a multiple of Hkv", op, q.Shape, k.Shape, v.Shape)
	}
	return b, h, hkv, tq, tk, d, nil
}

// attentionLogits returns the scaled (and soft-capped) logits q·kᵀ
// [B, H, Tq, Tk] before bias and masks, and tanh of the capped argument
// (nil without a cap) for the backward.
func attentionLogits(q, k T, o AttentionOpts, b, h, hkv, tq, tk, d int) (T, []float64) {
	s := New(b, h, tq, tk)
	var th []float64
	if o.SoftCap > 0 {
		th = make([]float64, s.Len())
	}
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			kh := ih / (h / hkv)
			for i := 0; i < tq; i++ {
				qr := q.Data[((ib*h+ih)*tq+i)*d:][:d]
				for j := 0; j < tk; j++ {
					kr := k.Data[((ib*hkv+kh)*tk+j)*d:][:d]
					dot := 0.0
					for x := range qr {
						dot += qr[x] * kr[x]
					}
					at := ((ib*h+ih)*tq+i)*tk + j
					dot *= o.Scale
					if o.SoftCap > 0 {
						th[at] = math.Tanh(dot / o.SoftCap)
						dot = o.SoftCap * th[at]
					}
					s.Data[at] = dot
				}
			}
		}
	}
	return s, th
}

// Attention is softmax(q·kᵀ·Scale, soft-capped, biased, masked)·v for q
// [B, H, Tq, D] and k, v [B, Hkv, Tk, D], query head h reading key head
// h / (H/Hkv). It returns out [B, Tq, H·D] and lse [B, H, Tq], each row's
// log Σ exp(logit) over its kept keys (math.MaxFloat32 for a row with
// none, whose probabilities Softmax makes uniform).
func Attention(q, k, v T, o AttentionOpts) (out, lse T, err error) {
	b, h, hkv, tq, tk, d, err := attentionDims("Attention", q, k, v)
	if err != nil {
		return T{}, T{}, err
	}
	s, _ := attentionLogits(q, k, o, b, h, hkv, tq, tk, d)
	so := o.SoftmaxOpts
	so.Scale = 1
	p, err := Softmax(s, so)
	if err != nil {
		return T{}, T{}, err
	}
	out, lse = New(b, tq, h*d), New(b, h, tq)
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			kh := ih / (h / hkv)
			for i := 0; i < tq; i++ {
				row := (ib*h+ih)*tq + i
				lse.Data[row] = rowLSE(s, so, ib, ih, i)
				dst := out.Data[(ib*tq+i)*h*d+ih*d:][:d]
				for j := 0; j < tk; j++ {
					pj := p.Data[row*tk+j]
					vr := v.Data[((ib*hkv+kh)*tk+j)*d:][:d]
					for x := range dst {
						dst[x] += pj * vr[x]
					}
				}
			}
		}
	}
	return out, lse, nil
}

// rowLSE is log Σ exp(logit + bias) over the kept keys of one row of the
// logits s [B, H, Tq, Tk], or math.MaxFloat32 when no key is kept.
func rowLSE(s T, o SoftmaxOpts, ib, ih, i int) float64 {
	h, tq, tk := s.Shape[1], s.Shape[2], s.Shape[3]
	row := (ib*h+ih)*tq + i
	var ls []float64
	for j := 0; j < tk; j++ {
		if o.Causal && j > i+tk-tq || o.Window > 0 && j <= i+tk-tq-o.Window ||
			o.KeyMask != nil && o.KeyMask.Data[ib*tk+j] == 0 {
			continue
		}
		l := s.Data[row*tk+j]
		if o.Bias != nil {
			if len(o.Bias.Shape) == 3 {
				l += o.Bias.Data[(ih*tq+i)*tk+j]
			} else {
				l += o.Bias.Data[row*tk+j]
			}
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return math.MaxFloat32
	}
	mx := math.Inf(-1)
	for _, l := range ls {
		mx = math.Max(mx, l)
	}
	sum := 0.0
	for _, l := range ls {
		sum += math.Exp(l - mx)
	}
	return mx + math.Log(sum)
}

// AttentionBackward returns the gradients of Attention's q, k and v for
// the gradient dout [B, Tq, H·D] of its output, composed from the
// reference Softmax and SoftmaxBackward: dP = dO·Vᵀ, dS by
// SoftmaxBackward, then through the soft-cap (1 − tanh²) and Scale;
// dq = dS·K, dk = Σ_heads dSᵀ·Q, dv = Σ_heads Pᵀ·dO.
func AttentionBackward(q, k, v, dout T, o AttentionOpts) (dq, dk, dv T, err error) {
	b, h, hkv, tq, tk, d, err := attentionDims("AttentionBackward", q, k, v)
	if err != nil {
		return T{}, T{}, T{}, err
	}
	if !sameShape(dout.Shape, []int{b, tq, h * d}) {
		return T{}, T{}, T{}, fmt.Errorf("ref AttentionBackward: dout %v, want [%d %d %d]", dout.Shape, b, tq, h*d)
	}
	s, th := attentionLogits(q, k, o, b, h, hkv, tq, tk, d)
	so := o.SoftmaxOpts
	so.Scale = 1
	p, err := Softmax(s, so)
	if err != nil {
		return T{}, T{}, T{}, err
	}
	dp := New(b, h, tq, tk)
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			kh := ih / (h / hkv)
			for i := 0; i < tq; i++ {
				gr := dout.Data[(ib*tq+i)*h*d+ih*d:][:d]
				for j := 0; j < tk; j++ {
					vr := v.Data[((ib*hkv+kh)*tk+j)*d:][:d]
					dot := 0.0
					for x := range gr {
						dot += gr[x] * vr[x]
					}
					dp.Data[((ib*h+ih)*tq+i)*tk+j] = dot
				}
			}
		}
	}
	ds, err := SoftmaxBackward(p, dp, 1)
	if err != nil {
		return T{}, T{}, T{}, err
	}
	for at := range ds.Data {
		if th != nil {
			ds.Data[at] *= 1 - th[at]*th[at]
		}
		ds.Data[at] *= o.Scale
	}
	dq, dk, dv = New(q.Shape...), New(k.Shape...), New(v.Shape...)
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			kh := ih / (h / hkv)
			for i := 0; i < tq; i++ {
				row := (ib*h+ih)*tq + i
				qr := q.Data[row*d:][:d]
				dqr := dq.Data[row*d:][:d]
				gr := dout.Data[(ib*tq+i)*h*d+ih*d:][:d]
				for j := 0; j < tk; j++ {
					kv := ((ib*hkv+kh)*tk + j) * d
					g, pj := ds.Data[row*tk+j], p.Data[row*tk+j]
					for x := 0; x < d; x++ {
						dqr[x] += g * k.Data[kv+x]
						dk.Data[kv+x] += g * qr[x]
						dv.Data[kv+x] += pj * gr[x]
					}
				}
			}
		}
	}
	return dq, dk, dv, nil
}
