package conformance

import (
	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// mulSumRowsCases cover MulSumRows on the shapes SumRows's cases use,
// including more than 64 rows (two passes on a GPU) and columns that are
// not a multiple of 4 (the scalar kernel).
func mulSumRowsCases() []opCase {
	var cs []opCase
	for _, shape := range [][]int{{1}, {3, 7}, {2, 33, 129}, {1029, 3}, {7, 1029}, {130, 64}} {
		rows := numel(shape[:len(shape)-1])
		cs = append(cs, opCase{op: "MulSumRows", shape: shapeStr(shape), k: rows, build: func(g *gen) (*spec, error) {
			a, ar := g.normal(0.2, 1, shape...)
			x, xr := g.normal(0, 1, shape...)
			want, err := ref.MulSumRows(ar, xr)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.MulSumRows(in[a], in[x]))
			}, want), err
		}})
	}
	return cs
}

// fusedNormCases cover AddNorm and NormBackwardAdd, LayerNorm and RMSNorm
// forms, with and without their vectors, against the float64 transcription
// of the two operations they fuse (ref.AddNorm, ref.NormBackwardAdd). Rows
// of 1029 features take several of a GPU workgroup's strides; [1, 1] has a
// single element.
func fusedNormCases() []opCase {
	var cs []opCase
	for _, v := range []normVariant{
		{shape: []int{1, 1}, eps: 1e-5, gamma: true, beta: true},
		{shape: []int{3, 7}, eps: 1e-5, gamma: true, beta: true},
		{shape: []int{33, 129}, eps: 1e-12},
		{shape: []int{2, 1029}, eps: 1e-6, gamma: true},
		{shape: []int{2, 3, 33}, eps: 1e-5, beta: true},
	} {
		d := v.shape[len(v.shape)-1]
		for _, rms := range []bool{false, true} {
			v := v
			name := "layer " + v.String()
			if rms {
				v.beta = false // RMSNorm has no beta
				name = "rms " + v.String()
			}
			cs = append(cs, opCase{op: "AddNorm", shape: name, k: d, build: func(g *gen) (*spec, error) {
				a, ar := g.normal(0.5, 1, v.shape...)
				x, xr := g.normal(0.25, 1, v.shape...)
				gi, gr := optionalVec(g, v.gamma, d, 1)
				bi, br := optionalVec(g, v.beta, d, 0)
				sum, y, err := ref.AddNorm(ar, xr, ref.NormSpec{RMS: rms, Gamma: gr, Beta: br, Eps: float64(v.eps)})
				s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					o := backend.NormOptions{RMS: rms, Weight: pick(in, gi), Bias: pick(in, bi), Eps: v.eps}
					s, y, err := b.AddNorm(in[a], in[x], o)
					if err != nil {
						return nil, err
					}
					return []backend.Tensor{s, y}, nil
				}, sum, y)
				s.names = []string{"sum", "y"}
				return s, err
			}})
			// With D = 1 the norm's gradient is a difference of terms of
			// size |dy·gamma·rstd| ≈ 1 that cancel, as in normCases.
			floor := 0.0
			if d == 1 {
				floor = 1
			}
			cs = append(cs, opCase{op: "NormBackwardAdd", shape: name, k: d, floor: floor, build: func(g *gen) (*spec, error) {
				x, xr := g.normal(0.5, 1, v.shape...)
				dy, dyr := g.normal(0, 1, v.shape...)
				dres, dresr := g.normal(0, 1, v.shape...)
				gi, gr := optionalVec(g, v.gamma, d, 1)
				want, err := ref.NormBackwardAdd(xr, dyr, dresr, ref.NormSpec{RMS: rms, Gamma: gr, Eps: float64(v.eps)})
				return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					o := backend.NormOptions{RMS: rms, Weight: pick(in, gi), Eps: v.eps}
					return one(b.NormBackwardAdd(in[x], in[dy], in[dres], o))
				}, want), err
			}})
		}
	}
	return cs
}
