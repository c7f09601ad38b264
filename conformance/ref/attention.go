package ref

import (
	"fmt"
	"math"
)

// SoftmaxOpts are the optional parts of Softmax.
type SoftmaxOpts struct {
	Scale  float64 // multiplies the scores; the caller maps 0 to 1
	Causal bool    // mask key j for query i when j > i + (Tk − Tq)
	// Window > 0 masks key j for query i when j ≤ i + (Tk − Tq) − Window.
	Window int
	// KeyMask is [B, Tk]: 0 masks the key, anything else keeps it.
	KeyMask *T
	// Bias is [H, Tq, Tk] or [B, H, Tq, Tk], added after scaling.
	Bias *T
}

// Softmax normalises scores [B, H, Tq, Tk] over the last axis after
// scaling, adding the bias and masking. Masked entries get probability 0;
// a row with every entry masked is uniform (1/Tk everywhere).
func Softmax(x T, o SoftmaxOpts) (T, error) {
	if err := x.valid("Softmax", "scores"); err != nil {
		return T{}, err
	}
	if len(x.Shape) != 4 {
		return T{}, fmt.Errorf("ref Softmax: scores %v, want [B, H, Tq, Tk]", x.Shape)
	}
	b, h, tq, tk := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if o.KeyMask != nil {
		if err := o.KeyMask.valid("Softmax", "key mask"); err != nil {
			return T{}, err
		}
		if !sameShape(o.KeyMask.Shape, []int{b, tk}) {
			return T{}, fmt.Errorf("ref Softmax: key mask %v, want [%d, %d]", o.KeyMask.Shape, b, tk)
		}
	}
	biasShared := false
	if o.Bias != nil {
		if err := o.Bias.valid("Softmax", "bias"); err != nil {
			return T{}, err
		}
		switch {
		case sameShape(o.Bias.Shape, []int{h, tq, tk}):
			biasShared = true
		case sameShape(o.Bias.Shape, x.Shape):
		default:
			return T{}, fmt.Errorf("ref Softmax: bias %v, want [%d, %d, %d] or %v", o.Bias.Shape, h, tq, tk, x.Shape)
		}
	}
	out := New(x.Shape...)
	logit := make([]float64, tk)
	keep := make([]bool, tk)
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			for i := 0; i < tq; i++ {
				row := ((ib*h+ih)*tq + i) * tk
				mx := math.Inf(-1)
				for j := 0; j < tk; j++ {
					keep[j] = !(o.Causal && j > i+tk-tq) && !(o.Window > 0 && j <= i+tk-tq-o.Window) &&
						(o.KeyMask == nil || o.KeyMask.Data[ib*tk+j] != 0)
					logit[j] = x.Data[row+j] * o.Scale
					if o.Bias != nil {
						if biasShared {
							logit[j] += o.Bias.Data[(ih*tq+i)*tk+j]
						} else {
							logit[j] += o.Bias.Data[row+j]
						}
					}
					if keep[j] && logit[j] > mx {
						mx = logit[j]
					}
				}
				if math.IsInf(mx, -1) { // every key masked
					for j := 0; j < tk; j++ {
						out.Data[row+j] = 1 / float64(tk)
					}
					continue
				}
				sum := 0.0
				for j := 0; j < tk; j++ {
					if keep[j] {
						out.Data[row+j] = math.Exp(logit[j] - mx)
						sum += out.Data[row+j]
					}
				}
				for j := 0; j < tk; j++ {
					out.Data[row+j] /= sum
				}
			}
		}
	}
	return out, nil
}

// SoftmaxBackward returns d(scores) = scale · y ⊙ (dy − Σ y⊙dy) per row, from
// the probabilities y; masked entries (y = 0) get 0.
func SoftmaxBackward(y, dy T, scale float64) (T, error) {
	if err := sameShapes("SoftmaxBackward", y, dy); err != nil {
		return T{}, err
	}
	rows, n := rowsCols(y.Shape)
	out := New(y.Shape...)
	for r := 0; r < rows; r++ {
		dot := 0.0
		for j := 0; j < n; j++ {
			dot += y.Data[r*n+j] * dy.Data[r*n+j]
		}
		for j := 0; j < n; j++ {
			out.Data[r*n+j] = scale * y.Data[r*n+j] * (dy.Data[r*n+j] - dot)
		}
	}
	return out, nil
}

// Rope rotates x [B, H, T, D] in the "neox" layout (Llama's rotate_half):
// with R = 2·len(invFreq) and angle θ = position·invFreq[i] for i < R/2,
// out[i] = x[i]·cos θ − x[i+R/2]·sin θ and out[i+R/2] = x[i+R/2]·cos θ +
// x[i]·sin θ; features from R on are copied. positions has T entries
// (shared by the batch) or B·T ([B, T]). inverse rotates by −θ.
func Rope(x T, invFreq []float64, positions []int, inverse bool) (T, error) {
	if err := x.valid("Rope", "x"); err != nil {
		return T{}, err
	}
	if len(x.Shape) != 4 {
		return T{}, fmt.Errorf("ref Rope: x %v, want [B, H, T, D]", x.Shape)
	}
	b, h, t, d := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	half := len(invFreq)
	if 2*half > d {
		return T{}, fmt.Errorf("ref Rope: %d inverse frequencies rotate more than D = %d features", half, d)
	}
	if len(positions) != t && len(positions) != b*t {
		return T{}, fmt.Errorf("ref Rope: %d positions for B = %d, T = %d", len(positions), b, t)
	}
	sign := 1.0
	if inverse {
		sign = -1
	}
	out := x.Clone()
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			for it := 0; it < t; it++ {
				pos := positions[it]
				if len(positions) == b*t {
					pos = positions[ib*t+it]
				}
				row := ((ib*h+ih)*t + it) * d
				for i := 0; i < half; i++ {
					sin, cos := math.Sincos(sign * float64(pos) * invFreq[i])
					x1, x2 := x.Data[row+i], x.Data[row+i+half]
					out.Data[row+i] = x1*cos - x2*sin
					out.Data[row+i+half] = x2*cos + x1*sin
				}
			}
		}
	}
	return out, nil
}
