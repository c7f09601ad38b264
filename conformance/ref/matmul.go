package ref

import "fmt"

// MatMul multiplies a [..., M, K] by b [..., K, N] into [..., M, N]. With
// transA a holds [..., K, M]; with transB b holds [..., N, K]. b's leading
// dimensions equal a's, or b is 2-D and shared by every batch. The result
// is scaled by alpha (the backend's 0-means-1 rule is the caller's job).
func MatMul(a, b T, transA, transB bool, alpha float64) (T, error) {
	if err := a.valid("MatMul", "a"); err != nil {
		return T{}, err
	}
	if err := b.valid("MatMul", "b"); err != nil {
		return T{}, err
	}
	if len(a.Shape) < 2 || len(b.Shape) < 2 {
		return T{}, fmt.Errorf("ref MatMul: a %v and b %v must be at least 2-D", a.Shape, b.Shape)
	}
	lead := a.Shape[:len(a.Shape)-2]
	shared := len(b.Shape) == 2
	if !shared && !sameShape(lead, b.Shape[:len(b.Shape)-2]) {
		return T{}, fmt.Errorf("ref MatMul: batch dimensions of a %v and b %v differ", a.Shape, b.Shape)
	}
	m, k := a.Shape[len(a.Shape)-2], a.Shape[len(a.Shape)-1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Shape[len(b.Shape)-2], b.Shape[len(b.Shape)-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return T{}, fmt.Errorf("ref MatMul: inner dimensions of a %v and b %v differ (transA %v, transB %v)", a.Shape, b.Shape, transA, transB)
	}
	batch := numel(lead)
	out := New(append(append([]int(nil), lead...), m, n)...)
	for p := 0; p < batch; p++ {
		ao := p * m * k
		bo := p * k * n
		if shared {
			bo = 0
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for q := 0; q < k; q++ {
					ai := ao + i*k + q
					if transA {
						ai = ao + q*m + i
					}
					bi := bo + q*n + j
					if transB {
						bi = bo + j*k + q
					}
					s += a.Data[ai] * b.Data[bi]
				}
				out.Data[(p*m+i)*n+j] = alpha * s
			}
		}
	}
	return out, nil
}

// LinearOpts are the optional parts of Linear.
type LinearOpts struct {
	// FanInFanOut: w is stored (in, out) instead of (out, in).
	FanInFanOut bool
	// Bias is [out] or nil.
	Bias *T
	// OutScale and InScale are [out] / [in], or [A, out] / [A, in] stacked
	// vectors selected per row by ScaleIndex; nil means no scaling.
	OutScale, InScale *T
	// ScaleIndex has one entry per row of x naming the stacked vector of
	// that row, -1 for none. Nil applies 1-D scales to every row.
	ScaleIndex []int
}

// Linear returns y = ((x ⊙ InScale) · Wᵀ + Bias) ⊙ OutScale for x [..., in].
func Linear(x, w T, o LinearOpts) (T, error) {
	if err := x.valid("Linear", "x"); err != nil {
		return T{}, err
	}
	if err := w.valid("Linear", "w"); err != nil {
		return T{}, err
	}
	if len(x.Shape) < 1 || len(w.Shape) != 2 {
		return T{}, fmt.Errorf("ref Linear: x %v, w %v: want x [..., in] and a 2-D weight", x.Shape, w.Shape)
	}
	rows, in := rowsCols(x.Shape)
	out, win := w.Shape[0], w.Shape[1]
	if o.FanInFanOut {
		out, win = win, out
	}
	if win != in {
		return T{}, fmt.Errorf("ref Linear: x %v does not match w %v (fan_in_fan_out %v)", x.Shape, w.Shape, o.FanInFanOut)
	}
	if o.Bias != nil && (len(o.Bias.Shape) != 1 || o.Bias.Shape[0] != out) {
		return T{}, fmt.Errorf("ref Linear: bias %v, want [%d]", o.Bias.Shape, out)
	}
	if o.ScaleIndex != nil && len(o.ScaleIndex) != rows {
		return T{}, fmt.Errorf("ref Linear: %d scale indices for %d rows", len(o.ScaleIndex), rows)
	}
	inVec, err := scalePicker("in_scale", o.InScale, in, o.ScaleIndex)
	if err != nil {
		return T{}, err
	}
	outVec, err := scalePicker("out_scale", o.OutScale, out, o.ScaleIndex)
	if err != nil {
		return T{}, err
	}
	y := New(append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), out)...)
	xs := make([]float64, in)
	for r := 0; r < rows; r++ {
		copy(xs, x.Data[r*in:(r+1)*in])
		if v := inVec(r); v != nil {
			for i := range xs {
				xs[i] *= v[i]
			}
		}
		ov := outVec(r)
		for j := 0; j < out; j++ {
			s := 0.0
			for i := 0; i < in; i++ {
				wi := j*in + i
				if o.FanInFanOut {
					wi = i*out + j
				}
				s += xs[i] * w.Data[wi]
			}
			if o.Bias != nil {
				s += o.Bias.Data[j]
			}
			if ov != nil {
				s *= ov[j]
			}
			y.Data[r*out+j] = s
		}
	}
	return y, nil
}

// scalePicker returns, for a row, the scale vector that applies to it or
// nil: a 1-D vector applies to every row, a stacked [A, n] one to the rows
// whose index is in [0, A), and index -1 turns scaling off for the row.
func scalePicker(name string, s *T, n int, index []int) (func(r int) []float64, error) {
	if s == nil {
		return func(int) []float64 { return nil }, nil
	}
	switch {
	case len(s.Shape) == 1 && s.Shape[0] == n && len(s.Data) == n:
		return func(r int) []float64 {
			if index != nil && index[r] < 0 {
				return nil
			}
			return s.Data
		}, nil
	case len(s.Shape) == 2 && s.Shape[1] == n && index != nil && len(s.Data) == s.Shape[0]*n:
		a := s.Shape[0]
		for r, i := range index {
			if i < -1 || i >= a {
				return nil, fmt.Errorf("ref Linear: %s index %d of row %d out of [-1, %d)", name, i, r, a)
			}
		}
		return func(r int) []float64 {
			if index[r] < 0 {
				return nil
			}
			return s.Data[index[r]*n : (index[r]+1)*n]
		}, nil
	}
	return nil, fmt.Errorf("ref Linear: %s shape %v, want [%d] or [A, %d] with a scale index", name, s.Shape, n, n)
}
