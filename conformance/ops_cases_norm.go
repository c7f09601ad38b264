package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// normVariant is one normalisation case: x's shape, eps and whether the
// affine vectors are given.
type normVariant struct {
	shape       []int
	eps         float32
	gamma, beta bool
}

func (v normVariant) String() string {
	s := fmt.Sprintf("%v eps %g", v.shape, v.eps)
	if v.gamma {
		s += " gamma"
	}
	if v.beta {
		s += " beta"
	}
	return s
}

// normCases cover LayerNorm and RMSNorm and their input gradients, with and
// without their per-feature vectors. Inputs have a nonzero mean so that
// LayerNorm's centring matters.
func normCases() []opCase {
	var cs []opCase
	for _, v := range []normVariant{
		{shape: []int{1, 1}, eps: 1e-5, gamma: true, beta: true},
		{shape: []int{3, 7}, eps: 1e-5, gamma: true, beta: true},
		{shape: []int{33, 129}, eps: 1e-12},
		{shape: []int{2, 1029}, eps: 1e-6, gamma: true},
		{shape: []int{2, 3, 33}, eps: 1e-5, beta: true},
	} {
		d := v.shape[len(v.shape)-1]
		cs = append(cs, opCase{op: "LayerNorm", shape: v.String(), k: d, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0.5, 1, v.shape...)
			gi, gr := optionalVec(g, v.gamma, d, 1)
			bi, br := optionalVec(g, v.beta, d, 0)
			want, err := ref.LayerNorm(xr, gr, br, float64(v.eps))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.LayerNorm(in[x], pick(in, gi), pick(in, bi), v.eps))
			}, want), err
		}})
		// With D = 1 both gradients are differences of terms of size
		// |dy·gamma·rstd| ≈ 1 that cancel (to exactly 0 for LayerNorm, to
		// ~1e-5 for RMSNorm), so float32 is judged against the terms' size.
		floor := 0.0
		if d == 1 {
			floor = 1
		}
		cs = append(cs, opCase{op: "LayerNormBackward", shape: v.String(), k: d, floor: floor, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0.5, 1, v.shape...)
			dy, dyr := g.normal(0, 1, v.shape...)
			gi, gr := optionalVec(g, v.gamma, d, 1)
			want, err := ref.LayerNormBackward(xr, gr, dyr, float64(v.eps))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.LayerNormBackward(in[x], pick(in, gi), in[dy], v.eps))
			}, want), err
		}})
		rms := normVariant{shape: v.shape, eps: v.eps, gamma: v.gamma} // RMSNorm has no beta
		cs = append(cs, opCase{op: "RMSNorm", shape: rms.String(), k: d, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0.5, 1, v.shape...)
			wi, wr := optionalVec(g, v.gamma, d, 1)
			want, err := ref.RMSNorm(xr, wr, float64(v.eps))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.RMSNorm(in[x], pick(in, wi), v.eps))
			}, want), err
		}})
		cs = append(cs, opCase{op: "RMSNormBackward", shape: rms.String(), k: d, floor: floor, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0.5, 1, v.shape...)
			dy, dyr := g.normal(0, 1, v.shape...)
			wi, wr := optionalVec(g, v.gamma, d, 1)
			want, err := ref.RMSNormBackward(xr, wr, dyr, float64(v.eps))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.RMSNormBackward(in[x], pick(in, wi), in[dy], v.eps))
			}, want), err
		}})
	}
	return cs
}

// optionalVec registers an F32 [d] vector of N(mean, 0.3²) values when on,
// returning its input index (or -1) and its reference (or nil).
func optionalVec(g *gen, on bool, d int, mean float64) (int, *ref.T) {
	if !on {
		return -1, nil
	}
	i, r := g.normal(mean, 0.3, d)
	return i, &r
}

// pick returns in[i], or nil for an absent optional input (i < 0).
func pick(in []backend.Tensor, i int) backend.Tensor {
	if i < 0 {
		return nil
	}
	return in[i]
}
