package ref

import (
	"fmt"
	"math"
)

// vecOrNil checks that an optional per-feature vector has shape [d].
func vecOrNil(op, name string, v *T, d int) ([]float64, error) {
	if v == nil {
		return nil, nil
	}
	if err := v.valid(op, name); err != nil {
		return nil, err
	}
	if len(v.Shape) != 1 || v.Shape[0] != d {
		return nil, fmt.Errorf("ref %s: %s shape %v, want [%d]", op, name, v.Shape, d)
	}
	return v.Data, nil
}

func at(v []float64, i int, def float64) float64 {
	if v == nil {
		return def
	}
	return v[i]
}

// meanVar returns the mean and the biased (divide by D) variance of row.
func meanVar(row []float64) (mean, variance float64) {
	for _, v := range row {
		mean += v
	}
	mean /= float64(len(row))
	for _, v := range row {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(row))
}

// LayerNorm returns (x − mean)/sqrt(var + eps) ⊙ gamma + beta over the last
// axis, with the biased variance as torch uses; gamma and beta may be nil.
func LayerNorm(x T, gamma, beta *T, eps float64) (T, error) {
	if err := x.valid("LayerNorm", "x"); err != nil {
		return T{}, err
	}
	rows, d := rowsCols(x.Shape)
	g, err := vecOrNil("LayerNorm", "gamma", gamma, d)
	if err != nil {
		return T{}, err
	}
	b, err := vecOrNil("LayerNorm", "beta", beta, d)
	if err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	for r := 0; r < rows; r++ {
		row := x.Data[r*d : (r+1)*d]
		mean, variance := meanVar(row)
		rstd := 1 / math.Sqrt(variance+eps)
		for i, v := range row {
			out.Data[r*d+i] = (v-mean)*rstd*at(g, i, 1) + at(b, i, 0)
		}
	}
	return out, nil
}

// LayerNormBackward returns dx for y = LayerNorm(x, gamma, ·): with
// x̂ = (x − mean)·rstd and g = dy ⊙ gamma,
// dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)).
func LayerNormBackward(x T, gamma *T, dy T, eps float64) (T, error) {
	if err := sameShapes("LayerNormBackward", x, dy); err != nil {
		return T{}, err
	}
	rows, d := rowsCols(x.Shape)
	gm, err := vecOrNil("LayerNormBackward", "gamma", gamma, d)
	if err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	g := make([]float64, d)
	xh := make([]float64, d)
	for r := 0; r < rows; r++ {
		row := x.Data[r*d : (r+1)*d]
		mean, variance := meanVar(row)
		rstd := 1 / math.Sqrt(variance+eps)
		var mg, mgx float64
		for i, v := range row {
			xh[i] = (v - mean) * rstd
			g[i] = dy.Data[r*d+i] * at(gm, i, 1)
			mg += g[i]
			mgx += g[i] * xh[i]
		}
		mg /= float64(d)
		mgx /= float64(d)
		for i := range row {
			out.Data[r*d+i] = rstd * (g[i] - mg - xh[i]*mgx)
		}
	}
	return out, nil
}

// RMSNorm returns x / sqrt(mean(x²) + eps) ⊙ w over the last axis; w may be
// nil.
func RMSNorm(x T, w *T, eps float64) (T, error) {
	if err := x.valid("RMSNorm", "x"); err != nil {
		return T{}, err
	}
	rows, d := rowsCols(x.Shape)
	wv, err := vecOrNil("RMSNorm", "w", w, d)
	if err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	for r := 0; r < rows; r++ {
		row := x.Data[r*d : (r+1)*d]
		ms := 0.0
		for _, v := range row {
			ms += v * v
		}
		rs := 1 / math.Sqrt(ms/float64(d)+eps)
		for i, v := range row {
			out.Data[r*d+i] = v * rs * at(wv, i, 1)
		}
	}
	return out, nil
}

// RMSNormBackward returns dx for y = RMSNorm(x, w): with r = 1/sqrt(mean(x²)
// + eps) and g = dy ⊙ w, dx = r·g − x·r³·mean(g ⊙ x).
func RMSNormBackward(x T, w *T, dy T, eps float64) (T, error) {
	if err := sameShapes("RMSNormBackward", x, dy); err != nil {
		return T{}, err
	}
	rows, d := rowsCols(x.Shape)
	wv, err := vecOrNil("RMSNormBackward", "w", w, d)
	if err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	for r := 0; r < rows; r++ {
		row := x.Data[r*d : (r+1)*d]
		ms, mgx := 0.0, 0.0
		for i, v := range row {
			ms += v * v
			mgx += dy.Data[r*d+i] * at(wv, i, 1) * v
		}
		rs := 1 / math.Sqrt(ms/float64(d)+eps)
		mgx /= float64(d)
		for i, v := range row {
			out.Data[r*d+i] = rs*dy.Data[r*d+i]*at(wv, i, 1) - v*rs*rs*rs*mgx
		}
	}
	return out, nil
}

// NormSpec names the normalisation AddNorm and NormBackwardAdd apply:
// LayerNorm with Gamma and Beta, or RMSNorm with Gamma when RMS is set.
type NormSpec struct {
	RMS         bool
	Gamma, Beta *T
	Eps         float64
}

// AddNorm returns sum = a + b and the norm s names of sum, both in float64:
// the transcription of a pre-norm block's residual add followed by its next
// norm.
func AddNorm(a, b T, s NormSpec) (sum, y T, err error) {
	if err := sameShapes("AddNorm", a, b); err != nil {
		return T{}, T{}, err
	}
	if s.RMS && s.Beta != nil {
		return T{}, T{}, fmt.Errorf("ref AddNorm: an RMS norm has no beta")
	}
	if sum, err = Add(a, b); err != nil {
		return T{}, T{}, err
	}
	if s.RMS {
		y, err = RMSNorm(sum, s.Gamma, s.Eps)
	} else {
		y, err = LayerNorm(sum, s.Gamma, s.Beta, s.Eps)
	}
	return sum, y, err
}

// NormBackwardAdd returns dres + dx, dx the gradient of the norm s names at
// x for upstream dy: a norm's input gradient with the residual stream's
// gradient added.
func NormBackwardAdd(x, dy, dres T, s NormSpec) (T, error) {
	if err := sameShapes("NormBackwardAdd", x, dres); err != nil {
		return T{}, err
	}
	var dx T
	var err error
	if s.RMS {
		dx, err = RMSNormBackward(x, s.Gamma, dy, s.Eps)
	} else {
		dx, err = LayerNormBackward(x, s.Gamma, dy, s.Eps)
	}
	if err != nil {
		return T{}, err
	}
	return Add(dx, dres)
}
