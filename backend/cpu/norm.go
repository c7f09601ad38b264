package cpu

import (
	"math"

	"github.com/ia3/ia3/backend"
)

// normArgs resolves a normalisation's x, optional [D] vectors and (for a
// backward) dy, returning the row length D.
func (b *Backend) normArgs(op string, xt, dyt backend.Tensor, vecs ...backend.Tensor) (x, dy *tensor, v []*tensor, d int, err error) {
	if x, err = b.tensorOf(op, "x", xt); err != nil {
		return
	}
	if dyt != nil {
		if dy, err = b.tensorOf(op, "dy", dyt); err != nil {
			return
		}
	}
	v = make([]*tensor, len(vecs))
	for i, t := range vecs {
		if v[i], err = b.optTensorOf(op, "weight", t); err != nil {
			return
		}
	}
	return x, dy, v, x.shape[len(x.shape)-1], nil
}

// vec returns t's values, or nil for a missing vector.
func vec(t *tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.f
}

// meanVar returns a row's mean and biased variance, accumulated in float64.
func meanVar(row []float32) (mean, variance float64) {
	mean = sum64(row) / float64(len(row))
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(row); i += 2 {
		d0, d1 := float64(row[i])-mean, float64(row[i+1])-mean
		s0 += d0 * d0
		s1 += d1 * d1
	}
	for ; i < len(row); i++ {
		d := float64(row[i]) - mean
		s0 += d * d
	}
	return mean, (s0 + s1) / float64(len(row))
}

// LayerNorm returns (x − mean)/sqrt(var + eps) ⊙ gamma + beta per row.
func (b *Backend) LayerNorm(xt, gammaT, betaT backend.Tensor, eps float32) (backend.Tensor, error) {
	x, _, v, d, err := b.normArgs("layer_norm", xt, nil, gammaT, betaT)
	if err != nil {
		return nil, err
	}
	gamma, beta := vec(v[0]), vec(v[1])
	out := b.newF32(x.shape...)
	b.parallelFor(len(x.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			layerNormRow(out.f[r*d:(r+1)*d], x.f[r*d:(r+1)*d], gamma, beta, eps)
		}
	})
	return out, nil
}

// layerNormRow sets dst to LayerNorm of row.
func layerNormRow(dst, row, gamma, beta []float32, eps float32) {
	mean, variance := meanVar(row)
	rstd := 1 / math.Sqrt(variance+float64(eps))
	if gamma != nil && beta != nil {
		affineNorm(dst, row, gamma, beta, mean, rstd)
		return
	}
	for i, xv := range row {
		y := (float64(xv) - mean) * rstd
		if gamma != nil {
			y *= float64(gamma[i])
		}
		if beta != nil {
			y += float64(beta[i])
		}
		dst[i] = float32(y)
	}
}

// LayerNormBackward returns dx = rstd·(g − mean(g) − x̂·mean(g⊙x̂)) with
// g = dy ⊙ gamma and x̂ the normalised input.
func (b *Backend) LayerNormBackward(xt, gammaT, dyt backend.Tensor, eps float32) (backend.Tensor, error) {
	x, dy, v, d, err := b.normArgs("layer_norm_backward", xt, dyt, gammaT)
	if err != nil {
		return nil, err
	}
	gamma := vec(v[0])
	out := b.newF32(x.shape...)
	b.parallelFor(len(x.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			layerNormBackwardRow(out.f[r*d:(r+1)*d], x.f[r*d:(r+1)*d], dy.f[r*d:(r+1)*d], gamma, eps)
		}
	})
	return out, nil
}

// layerNormBackwardRow sets dst to LayerNorm's dx for one row.
func layerNormBackwardRow(dst, row, dyr, gamma []float32, eps float32) {
	d := len(row)
	mean, variance := meanVar(row)
	rstd := 1 / math.Sqrt(variance+float64(eps))
	// g = dy ⊙ gamma is recomputed in the second pass rather than
	// kept, so the backward needs no scratch row.
	var sumG, sumGX float64
	if gamma != nil {
		gamma = gamma[:len(row)]
	}
	dyr = dyr[:len(row)]
	for i, xv := range row {
		g := float64(dyr[i])
		if gamma != nil {
			g *= float64(gamma[i])
		}
		sumG += g
		sumGX += g * (float64(xv) - mean)
	}
	meanG, meanGX := sumG/float64(d), sumGX*rstd/float64(d)
	dst = dst[:len(row)]
	for i, xv := range row {
		g := float64(dyr[i])
		if gamma != nil {
			g *= float64(gamma[i])
		}
		xhat := (float64(xv) - mean) * rstd
		dst[i] = float32(rstd * (g - meanG - xhat*meanGX))
	}
}

// affineNorm sets dst = (x − mean)·rstd ⊙ gamma + beta in float64, rounded
// once: LayerNorm's common case, without the per-element nil checks.
func affineNorm(dst, x, gamma, beta []float32, mean, rstd float64) {
	x, gamma, beta = x[:len(dst)], gamma[:len(dst)], beta[:len(dst)]
	for i, xv := range x {
		dst[i] = float32((float64(xv)-mean)*rstd*float64(gamma[i]) + float64(beta[i]))
	}
}

// rmsInv returns 1/sqrt(mean(x²) + eps) for a row, in float64.
func rmsInv(row []float32, eps float32) float64 {
	var ss float64
	for _, v := range row {
		ss += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(ss/float64(len(row))+float64(eps))
}

// RMSNorm returns x / sqrt(mean(x²) + eps) ⊙ w per row.
func (b *Backend) RMSNorm(xt, wt backend.Tensor, eps float32) (backend.Tensor, error) {
	x, _, v, d, err := b.normArgs("rms_norm", xt, nil, wt)
	if err != nil {
		return nil, err
	}
	w := vec(v[0])
	out := b.newF32(x.shape...)
	b.parallelFor(len(x.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rmsNormRow(out.f[r*d:(r+1)*d], x.f[r*d:(r+1)*d], w, eps)
		}
	})
	return out, nil
}

// rmsNormRow sets dst to RMSNorm of row.
func rmsNormRow(dst, row, w []float32, eps float32) {
	inv := rmsInv(row, eps)
	for i, xv := range row {
		y := float64(xv) * inv
		if w != nil {
			y *= float64(w[i])
		}
		dst[i] = float32(y)
	}
}

// RMSNormBackward returns dx = inv·(g − x·inv²·mean(g⊙x)) with g = dy ⊙ w.
func (b *Backend) RMSNormBackward(xt, wt, dyt backend.Tensor, eps float32) (backend.Tensor, error) {
	x, dy, v, d, err := b.normArgs("rms_norm_backward", xt, dyt, wt)
	if err != nil {
		return nil, err
	}
	w := vec(v[0])
	out := b.newF32(x.shape...)
	b.parallelFor(len(x.f)/d, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rmsNormBackwardRow(out.f[r*d:(r+1)*d], x.f[r*d:(r+1)*d], dy.f[r*d:(r+1)*d], w, eps)
		}
	})
	return out, nil
}

// rmsNormBackwardRow sets dst to RMSNorm's dx for one row.
func rmsNormBackwardRow(dst, row, dyr, w []float32, eps float32) {
	inv := rmsInv(row, eps)
	var sumGX float64
	for i, xv := range row {
		g := float64(dyr[i])
		if w != nil {
			g *= float64(w[i])
		}
		sumGX += g * float64(xv)
	}
	k := inv * inv * sumGX / float64(len(row))
	for i, xv := range row {
		g := float64(dyr[i])
		if w != nil {
			g *= float64(w[i])
		}
		dst[i] = float32(inv * (g - float64(xv)*k))
	}
}
