package ref

import (
	"fmt"
	"math"
)

// TopK returns the indices of the k largest values of each row of x [N, E],
// in descending order of value, as [N, k] (the indices as float64): equal
// values go to the lower index, and a row holding a NaN gives 0, 1, …, k−1.
// It picks by repeated scans, the plainest statement of the rule.
func TopK(x T, k int) (T, error) {
	if err := x.valid("top_k", "x"); err != nil {
		return T{}, err
	}
	if len(x.Shape) != 2 {
		return T{}, fmt.Errorf("ref top_k: x %v is not [N, E]", x.Shape)
	}
	n, e := x.Shape[0], x.Shape[1]
	if k < 1 || k > e {
		return T{}, fmt.Errorf("ref top_k: k %d outside [1, %d]", k, e)
	}
	out := New(n, k)
	for i := range n {
		row := x.Data[i*e : (i+1)*e]
		hasNaN := false
		for _, v := range row {
			hasNaN = hasNaN || math.IsNaN(v)
		}
		taken := make([]bool, e)
		for j := range k {
			best := j
			if !hasNaN {
				best = -1
				for c, v := range row {
					if !taken[c] && (best < 0 || v > row[best]) {
						best = c
					}
				}
			}
			taken[best] = true
			out.Data[i*k+j] = float64(best)
		}
	}
	return out, nil
}

// ExpertLinear multiplies each slot (n, j) of ids [N, k] by the weight of
// expert ids[n, j]: ws are [out, in] each, x is [N, in] (shared by the k
// slots of a token) or [N, k, in], and the result [N, k, out] holds
// x[n(, j)] · ws[id]ᵀ. With backward the weights are read untransposed:
// x holds out features and the result in features.
func ExpertLinear(x T, ws []T, ids []int, k int, backward bool) (T, error) {
	if err := x.valid("expert_linear", "x"); err != nil {
		return T{}, err
	}
	if len(ws) == 0 {
		return T{}, fmt.Errorf("ref expert_linear: no experts")
	}
	if k < 1 || len(ids)%k != 0 {
		return T{}, fmt.Errorf("ref expert_linear: %d ids for k %d", len(ids), k)
	}
	for e, w := range ws {
		if err := w.valid("expert_linear", fmt.Sprintf("ws[%d]", e)); err != nil {
			return T{}, err
		}
		if len(w.Shape) != 2 || w.Shape[0] != ws[0].Shape[0] || w.Shape[1] != ws[0].Shape[1] {
			return T{}, fmt.Errorf("ref expert_linear: ws[%d] %v differs from ws[0] %v or is not 2-D", e, w.Shape, ws[0].Shape)
		}
	}
	rows, cols := ws[0].Shape[0], ws[0].Shape[1]
	din, dout := cols, rows
	if backward {
		din, dout = rows, cols
	}
	n := len(ids) / k
	shared := len(x.Shape) == 2
	switch {
	case shared && x.Shape[0] == n && x.Shape[1] == din:
	case len(x.Shape) == 3 && x.Shape[0] == n && x.Shape[1] == k && x.Shape[2] == din:
	default:
		return T{}, fmt.Errorf("ref expert_linear: x %v for ids [%d %d] and %d input features", x.Shape, n, k, din)
	}
	out := New(n, k, dout)
	for s, id := range ids {
		if id < 0 || id >= len(ws) {
			return T{}, fmt.Errorf("ref expert_linear: id %d at slot %d outside [0, %d)", id, s, len(ws))
		}
		xr := s
		if shared {
			xr = s / k
		}
		in := x.Data[xr*din : (xr+1)*din]
		w := ws[id].Data
		for c := range dout {
			var acc float64
			for i, v := range in {
				if backward {
					acc += v * w[i*cols+c]
				} else {
					acc += v * w[c*cols+i]
				}
			}
			out.Data[s*dout+c] = acc
		}
	}
	return out, nil
}
