package conformance

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// adapterCases cover the (IA)³ merge maths (ScaleRows, ScaleCols with and
// without PEFT's inverse), WeightedSum, AllFinite and the AdamW step.
func adapterCases() []opCase {
	var cs []opCase
	type scaleFn struct {
		name string
		call func(b backend.Backend, w, v backend.Tensor, invert bool) (backend.Tensor, error)
		ref  func(w, v ref.T, invert bool) (ref.T, error)
		axis int // the dimension v runs along
	}
	for _, op := range []scaleFn{
		{"ScaleRows", backend.Backend.ScaleRows, ref.ScaleRows, 0},
		{"ScaleCols", backend.Backend.ScaleCols, ref.ScaleCols, 1},
	} {
		for _, v := range []struct {
			shape  []int
			dtype  backend.DType
			invert bool
			zero   bool // v is all zeros: the 1e-8 alone keeps the division finite
		}{
			{shape: []int{1, 1}},
			{shape: []int{33, 7}},
			{shape: []int{129, 1029}, dtype: backend.F16},
			{shape: []int{7, 33}, dtype: backend.BF16, invert: true},
			{shape: []int{33, 129}, invert: true},
			{shape: []int{3, 7}, invert: true, zero: true},
		} {
			name := fmt.Sprintf("%v%v", v.dtype, v.shape)
			if v.invert {
				name += " invert"
			}
			if v.zero {
				name += " v=0"
			}
			cs = append(cs, opCase{op: op.name, shape: name, build: func(g *gen) (*spec, error) {
				w, wr := g.weight(v.dtype, 1, v.shape...)
				n := v.shape[op.axis]
				vals := g.values(n, 1, 0.3)
				if v.zero {
					vals = make([]float64, n)
				}
				vi, vr := g.f32(vals, n)
				want, err := op.ref(wr, vr, v.invert)
				return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(op.call(b, in[w], in[vi], v.invert))
				}, want), err
			}})
		}
	}
	for _, v := range []struct {
		shape   []int
		weights []float32
	}{
		{[]int{7}, []float32{1}},
		{[]int{3, 33}, []float32{0.6, 0.4}}, // PEFT's add_weighted_adapter
		{[]int{1029}, []float32{0.5, -1.25, 2}},
		{[]int{1}, []float32{0}},
	} {
		cs = append(cs, opCase{op: "WeightedSum", shape: fmt.Sprintf("%d × %v weights %v", len(v.weights), v.shape, v.weights), build: func(g *gen) (*spec, error) {
			idx := make([]int, len(v.weights))
			refs := make([]ref.T, len(v.weights))
			w64 := make([]float64, len(v.weights))
			for i := range v.weights {
				idx[i], refs[i] = g.normal(1, 0.3, v.shape...)
				w64[i] = float64(v.weights[i])
			}
			want, err := ref.WeightedSum(refs, w64)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				xs := make([]backend.Tensor, len(idx))
				for i, j := range idx {
					xs[i] = in[j]
				}
				return one(b.WeightedSum(xs, v.weights))
			}, want), err
		}})
	}
	for _, v := range []struct {
		n   int
		at  int     // where to put the special value, -1 for none
		val float64 // the special value
	}{
		{1, -1, 0},
		{1029, -1, 0},
		{1029, 1028, math.NaN()},
		{33, 7, math.Inf(1)},
		{129, 0, math.Inf(-1)},
		{1, 0, math.NaN()},
	} {
		cs = append(cs, opCase{op: "AllFinite", shape: fmt.Sprintf("[%d] %v at %d", v.n, v.val, v.at), build: func(g *gen) (*spec, error) {
			vals := g.values(v.n, 0, 1e30) // large but finite values are finite
			if v.at >= 0 {
				vals[v.at] = v.val
			}
			x, xr := g.f32(vals, v.n)
			want := 0.0
			if ref.AllFinite(xr) {
				want = 1
			}
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				ok, err := b.AllFinite(in[x])
				if err != nil {
					return nil, err
				}
				// The boolean comes back as a [1] tensor so it compares
				// like every other result.
				r := float32(0)
				if ok {
					r = 1
				}
				return one(b.FromFloat32([]float32{r}, 1))
			}, ref.T{Shape: []int{1}, Data: []float64{want}}), nil
		}})
	}
	return append(cs, adamWCases()...)
}

// adamWHyper is one AdamW step's hyper-parameters as a caller writes them.
type adamWHyper struct {
	lr, beta1, beta2, eps, wd float64
	step                      int
}

// adamWCases run one AdamW step and compare the parameter and both moments.
//
// The options reach the device as float32, but torch computes 1 − β and the
// bias corrections from the Python floats the caller wrote. The reference
// follows torch (the decimals below); a device may use either the float32
// values or the decimals they stand for. Cases whose hyper-parameters are
// dyadic (exact in float32 with an exact short decimal) leave no such
// choice and get the plain tolerance; for decimal ones K = 1/(1 − β2)
// widens it by the float32 rounding of β2 magnified in 1 − β2.
func adamWCases() []opCase {
	var cs []opCase
	for _, v := range []struct {
		shape []int
		h     adamWHyper
		tiny  bool // gradients near 1e-8: eps is no longer negligible
	}{
		{[]int{1}, adamWHyper{0.05, 0.9, 0.999, 1e-8, 0.01, 1}, false}, // the fixtures' training spec
		{[]int{33, 129}, adamWHyper{0.05, 0.9, 0.999, 1e-8, 0.01, 3}, false},
		{[]int{1029}, adamWHyper{0.0625, 0.875, 0.9921875, 0x1p-27, 0.25, 1}, true},
		{[]int{7, 3}, adamWHyper{0.125, 0, 0.5, 0x1p-20, 0.0625, 10}, false},
		{[]int{129, 33}, adamWHyper{0.03125, 0.75, 0.9375, 0x1p-27, 0.5, 4}, false},
	} {
		h := v.h
		dyadic := func(x float64) bool { return float64(float32(x)) == x }
		k := 0
		if !(dyadic(h.lr) && dyadic(h.beta1) && dyadic(h.beta2) && dyadic(h.eps) && dyadic(h.wd)) {
			k = int(math.Round(1 / (1 - h.beta2)))
		}
		name := fmt.Sprintf("%v lr %g β (%g, %g) eps %.3g wd %g step %d", v.shape, h.lr, h.beta1, h.beta2, h.eps, h.wd, h.step)
		if v.tiny {
			name += " tiny grads"
		}
		o := backend.AdamWOptions{LR: float32(h.lr), Beta1: float32(h.beta1), Beta2: float32(h.beta2),
			Eps: float32(h.eps), WeightDecay: float32(h.wd), Step: h.step}
		cs = append(cs, opCase{op: "AdamW", shape: name, k: k, build: func(g *gen) (*spec, error) {
			gscale := 1.0
			if v.tiny {
				gscale = 1e-8
			}
			n := numel(v.shape)
			p, pr := g.normal(1, 0.3, v.shape...)
			gr, grr := g.normal(0, gscale, v.shape...)
			mi, mr := g.normal(0, 0.1*gscale, v.shape...)
			sq := g.values(n, 0, gscale*gscale)
			for i := range sq {
				sq[i] = math.Abs(sq[i]) // the second moment is non-negative
			}
			if h.step == 1 {
				// A first step starts from zero moments, as torch does.
				mr.Data = make([]float64, n)
				g.inputs[mi].f32 = make([]float32, n)
				sq = make([]float64, n)
			}
			vi, vr := g.f32(sq, v.shape...)
			np, nm, nv, err := ref.AdamW(pr.Data, grr.Data, mr.Data, vr.Data,
				ref.AdamWOpts{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps, WeightDecay: h.wd, Step: h.step})
			if err != nil {
				return nil, err
			}
			s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				if err := b.AdamW(in[p], in[gr], in[mi], in[vi], o); err != nil {
					return nil, err
				}
				return []backend.Tensor{in[p], in[mi], in[vi]}, nil
			}, ref.T{Shape: v.shape, Data: np}, ref.T{Shape: v.shape, Data: nm}, ref.T{Shape: v.shape, Data: nv})
			s.names = []string{"param", "m", "v"}
			return s, nil
		}})
	}
	return cs
}
