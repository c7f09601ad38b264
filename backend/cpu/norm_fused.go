package cpu

import (
	"github.com/ia3/ia3/backend"
)

// AddNorm returns sum = a + b and the norm o names of sum, row by row: each
// row's sum is rounded to float32 and normalised as LayerNorm or RMSNorm
// normalises it, so the results equal Add then the norm bit for bit.
func (b *Backend) AddNorm(at, bt backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	const op = "add_norm"
	a, _, v, d, err := b.normArgs(op, at, nil, o.Weight, o.Bias)
	if err != nil {
		return nil, nil, err
	}
	x, err := b.tensorOf(op, "b", bt)
	if err != nil {
		return nil, nil, err
	}
	w, bias := vec(v[0]), vec(v[1])
	sum, out := b.newF32(a.shape...), b.newF32(a.shape...)
	if d == 0 {
		return sum, out, nil
	}
	b.parallelFor(len(a.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s, ar, br := sum.f[r*d:(r+1)*d], a.f[r*d:(r+1)*d], x.f[r*d:(r+1)*d]
			for i := range s {
				s[i] = ar[i] + br[i]
			}
			if o.RMS {
				rmsNormRow(out.f[r*d:(r+1)*d], s, w, o.Eps)
			} else {
				layerNormRow(out.f[r*d:(r+1)*d], s, w, bias, o.Eps)
			}
		}
	})
	return sum, out, nil
}

// NormBackwardAdd returns dres + dx, dx the norm's input gradient as
// LayerNormBackward or RMSNormBackward computes it (rounded to float32, then
// added), so the result equals the two operations bit for bit.
func (b *Backend) NormBackwardAdd(xt, dyt, drest backend.Tensor, o backend.NormOptions) (backend.Tensor, error) {
	const op = "norm_backward_add"
	x, dy, v, d, err := b.normArgs(op, xt, dyt, o.Weight)
	if err != nil {
		return nil, err
	}
	dres, err := b.tensorOf(op, "dres", drest)
	if err != nil {
		return nil, err
	}
	w := vec(v[0])
	out := b.newF32(x.shape...)
	if d == 0 {
		return out, nil
	}
	b.parallelFor(len(x.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dst := out.f[r*d : (r+1)*d]
			if o.RMS {
				rmsNormBackwardRow(dst, x.f[r*d:(r+1)*d], dy.f[r*d:(r+1)*d], w, o.Eps)
			} else {
				layerNormBackwardRow(dst, x.f[r*d:(r+1)*d], dy.f[r*d:(r+1)*d], w, o.Eps)
			}
			for i, g := range dres.f[r*d : (r+1)*d] {
				dst[i] += g
			}
		}
	})
	return out, nil
}
