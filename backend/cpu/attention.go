package cpu

import (
	"math"

	"github.com/ia3/ia3/backend"
)

// Softmax normalises scores [B, H, Tq, Tk] over the last axis after scaling,
// adding the bias and masking (causal and per-key). Masked entries get 0; a
// row with every entry masked is uniform.
func (b *Backend) Softmax(st backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	const op = "softmax"
	s, err := b.tensorOf(op, "scores", st)
	if err != nil {
		return nil, err
	}
	mask, err := b.optTensorOf(op, "key_mask", o.KeyMask)
	if err != nil {
		return nil, err
	}
	bias, err := b.optTensorOf(op, "bias", o.Bias)
	if err != nil {
		return nil, err
	}
	scale := o.Scale
	if scale == 0 {
		scale = 1
	}
	bs, h, tq, tk := s.shape[0], s.shape[1], s.shape[2], s.shape[3]
	out := b.newF32(s.shape...)
	b.parallelFor(bs*h*tq, tk, func(lo, hi int) {
		logits := make([]float32, tk)
		keep := make([]bool, tk)
		for r := lo; r < hi; r++ {
			bi, i := r/(h*tq), r%tq
			src, dst := s.f[r*tk:(r+1)*tk], out.f[r*tk:(r+1)*tk]
			var brow []float32
			if bias != nil {
				off := r % (h * tq) // shared [H, Tq, Tk]
				if len(bias.shape) == 4 {
					off = r
				}
				brow = bias.f[off*tk : (off+1)*tk]
			}
			var mrow []float32
			if mask != nil {
				mrow = mask.f[bi*tk : (bi+1)*tk]
			}
			any := false
			mx := float32(math.Inf(-1))
			for j, v := range src {
				keep[j] = !(o.Causal && j > i+(tk-tq)) && (mrow == nil || mrow[j] != 0)
				if !keep[j] {
					continue
				}
				l := v * scale
				if brow != nil {
					l += brow[j]
				}
				logits[j] = l
				any = true
				mx = max(mx, l)
			}
			if !any {
				for j := range dst {
					dst[j] = 1 / float32(tk)
				}
				continue
			}
			var sum float64
			for j := range dst {
				if keep[j] {
					e := math.Exp(float64(logits[j] - mx))
					sum += e
					dst[j] = float32(e)
				} else {
					dst[j] = 0
				}
			}
			inv := 1 / sum
			for j := range dst {
				dst[j] = float32(float64(dst[j]) * inv)
			}
		}
	})
	return out, nil
}

// SoftmaxBackward returns scale·y ⊙ (dy − Σ y⊙dy) per row.
func (b *Backend) SoftmaxBackward(yt, dyt backend.Tensor, scale float32) (backend.Tensor, error) {
	const op = "softmax_backward"
	y, err := b.tensorOf(op, "y", yt)
	if err != nil {
		return nil, err
	}
	dy, err := b.tensorOf(op, "dy", dyt)
	if err != nil {
		return nil, err
	}
	if scale == 0 {
		scale = 1
	}
	tk := y.shape[len(y.shape)-1]
	out := b.newF32(y.shape...)
	b.parallelFor(len(y.f)/tk, tk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, gr, dst := y.f[r*tk:(r+1)*tk], dy.f[r*tk:(r+1)*tk], out.f[r*tk:(r+1)*tk]
			var dot float64
			for j, v := range yr {
				dot += float64(v) * float64(gr[j])
			}
			for j, v := range yr {
				dst[j] = float32(float64(scale) * float64(v) * (float64(gr[j]) - dot))
			}
		}
	})
	return out, nil
}

// Rope rotates the first R = 2·len(InvFreq) features of x [B, H, T, D] in
// the "neox" layout: feature i pairs with i + R/2, rotated by the angle
// position·InvFreq[i]. Features past R are copied. Inverse rotates back.
func (b *Backend) Rope(xt backend.Tensor, o backend.RopeOptions) (backend.Tensor, error) {
	const op = "rope"
	x, err := b.tensorOf(op, "x", xt)
	if err != nil {
		return nil, err
	}
	freq, err := b.tensorOf(op, "inv_freq", o.InvFreq)
	if err != nil {
		return nil, err
	}
	pos, err := b.tensorOf(op, "positions", o.Positions)
	if err != nil {
		return nil, err
	}
	bs, h, t, d := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	half := len(freq.f)
	sign := 1.0
	if o.Inverse {
		sign = -1
	}
	out := b.newF32(x.shape...)
	b.parallelFor(bs*h*t, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi, ti := r/(h*t), r%t
			p := pos.i[ti]
			if len(pos.shape) == 2 {
				p = pos.i[bi*t+ti]
			}
			src, dst := x.f[r*d:(r+1)*d], out.f[r*d:(r+1)*d]
			for i, f := range freq.f {
				// The angle is a float32 product, as transformers computes
				// it (even for float64 models); its sine and cosine are exact.
				sin, cos := math.Sincos(float64(float32(p) * f))
				sin *= sign
				x1, x2 := float64(src[i]), float64(src[i+half])
				dst[i] = float32(x1*cos - x2*sin)
				dst[i+half] = float32(x2*cos + x1*sin)
			}
			copy(dst[2*half:], src[2*half:])
		}
	})
	return out, nil
}
