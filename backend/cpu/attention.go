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
		for r := lo; r < hi; r++ {
			bi, i := r/(h*tq), r%tq
			src, dst := s.f[r*tk:(r+1)*tk], out.f[r*tk:(r+1)*tk]
			// Keys past i + Tk − Tq are masked causally: they are never
			// read, and their probabilities stay the zeros of newF32.
			n := tk
			if o.Causal {
				n = min(tk, max(i+tk-tq+1, 0))
			}
			// Keys at or before i + Tk − Tq − Window are outside the
			// sliding window: probability 0 as well.
			lo := 0
			if o.Window > 0 {
				lo = min(n, max(i+tk-tq-o.Window+1, 0))
			}
			var brow, mrow []float32
			if bias != nil {
				off := r % (h * tq) // shared [H, Tq, Tk]
				if len(bias.shape) == 4 {
					off = r
				}
				brow = bias.f[off*tk+lo : off*tk+n]
			}
			if mask != nil {
				mrow = mask.f[bi*tk+lo : bi*tk+n]
			}
			if !softmaxRow(dst[lo:n], src[lo:n], brow, mrow, scale) {
				uniform := 1 / float32(tk)
				for j := range dst {
					dst[j] = uniform
				}
			}
		}
	})
	return out, nil
}

// softmaxRow sets dst = softmax(scale·src + bias) over the entries whose
// mask is non-zero (bias and mask may be nil), 0 elsewhere, using dst for
// the logits. It reports false, leaving dst undefined, when every entry is
// masked.
func softmaxRow(dst, src, bias, mask []float32, scale float32) bool {
	src = src[:len(dst)]
	for j, v := range src {
		dst[j] = v * scale
	}
	if bias != nil {
		addInto(dst, dst, bias)
	}
	negInf := float32(math.Inf(-1))
	if mask != nil {
		mask = mask[:len(dst)]
		for j, m := range mask {
			if m == 0 {
				dst[j] = negInf
			}
		}
	}
	mx := maxOf(dst)
	if mx == negInf || len(dst) == 0 {
		return false
	}
	sum := expShifted(dst, dst, mx)
	scaleInto(dst, dst, float32(1/sum))
	return true
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
			dot := dot64(yr, gr)
			gr = gr[:len(yr)]
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
