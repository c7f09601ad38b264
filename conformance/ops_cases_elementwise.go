package conformance

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// activations lists every Unary the backend defines.
var activations = []backend.Unary{backend.GELUErf, backend.GELUTanh, backend.ReLU, backend.SiLU, backend.Tanh, backend.Sigmoid, backend.Log}

// activationInput registers the input of an activation case: N(0, 2²),
// or for Log its absolute value plus 0.01, in the domain where the log and
// its derivative 1/x are finite (T-Few's log(1 − p + 0.01) stays there).
func activationInput(g *gen, f backend.Unary, shape []int) (int, ref.T) {
	v := g.values(numel(shape), 0, 2)
	if f == backend.Log {
		for i := range v {
			v[i] = math.Abs(v[i]) + 0.01
		}
	}
	return g.f32(v, shape...)
}

// elementwiseCases cover the broadcasting binary ops, Affine, every
// activation and its derivative, and SwiGLU.
func elementwiseCases() []opCase {
	var cs []opCase
	type binop struct {
		name string
		sym  string
		call func(b backend.Backend, x, y backend.Tensor) (backend.Tensor, error)
		ref  func(x, y ref.T) (ref.T, error)
	}
	for _, op := range []binop{
		{"Add", "+", backend.Backend.Add, ref.Add},
		{"Sub", "−", backend.Backend.Sub, ref.Sub},
		{"Mul", "⊙", backend.Backend.Mul, ref.Mul},
	} {
		for _, v := range []struct{ a, b []int }{
			{[]int{1}, []int{1}},
			{[]int{3, 7}, []int{3, 7}},
			{[]int{2, 33, 129}, []int{129}},
			{[]int{7, 1029}, []int{1029}},
			{[]int{2, 3, 5}, []int{3, 5}},
			{[]int{1029, 1}, []int{1}},
		} {
			cs = append(cs, opCase{op: op.name, shape: fmt.Sprintf("%v %s %v", v.a, op.sym, v.b), build: func(g *gen) (*spec, error) {
				a, ar := g.normal(0, 1, v.a...)
				b, br := g.normal(0.5, 1, v.b...)
				want, err := op.ref(ar, br)
				return g.done(func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(op.call(be, in[a], in[b]))
				}, want), err
			}})
		}
	}
	for _, v := range []struct {
		shape       []int
		alpha, beta float32
	}{
		{[]int{1029}, 0.5, -2},
		{[]int{3, 7}, -1.5, 0.25},
		{[]int{1}, 1, 0},
		{[]int{33, 3}, 0, 3}, // alpha 0 is literal: the result is beta
	} {
		cs = append(cs, opCase{op: "Affine", shape: fmt.Sprintf("%v alpha %g beta %g", v.shape, v.alpha, v.beta), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.shape...)
			want, err := ref.Affine(xr, float64(v.alpha), float64(v.beta))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Affine(in[x], v.alpha, v.beta))
			}, want), err
		}})
	}
	for _, f := range activations {
		for _, shape := range [][]int{{1}, {3, 33}, {7, 1029}} {
			// N(0, 2²) reaches ±6: GELU's tails and the region where its
			// erf and tanh forms differ most (|x| ≈ 2.7).
			cs = append(cs, opCase{op: "Activation", shape: fmt.Sprintf("%v %v", f, shape), build: func(g *gen) (*spec, error) {
				x, xr := activationInput(g, f, shape)
				want, err := ref.Activation(f, xr)
				return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(b.Activation(f, in[x]))
				}, want), err
			}})
		}
		for _, shape := range [][]int{{1}, {2, 1029}} {
			cs = append(cs, opCase{op: "ActivationBackward", shape: fmt.Sprintf("%v %v", f, shape), build: func(g *gen) (*spec, error) {
				x, xr := activationInput(g, f, shape)
				dy, dyr := g.normal(0, 1, shape...)
				want, err := ref.ActivationBackward(f, xr, dyr)
				return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(b.ActivationBackward(f, in[x], in[dy]))
				}, want), err
			}})
		}
	}
	for _, shape := range [][]int{{1}, {3, 1029}, {2, 7, 33}} {
		cs = append(cs, opCase{op: "SwiGLU", shape: shapeStr(shape), build: func(g *gen) (*spec, error) {
			gate, gr := g.normal(0, 2, shape...)
			up, ur := g.normal(0, 1, shape...)
			want, err := ref.SwiGLU(gr, ur)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.SwiGLU(in[gate], in[up]))
			}, want), err
		}})
		cs = append(cs, opCase{op: "SwiGLUBackward", shape: shapeStr(shape), build: func(g *gen) (*spec, error) {
			gate, gr := g.normal(0, 2, shape...)
			up, ur := g.normal(0, 1, shape...)
			dy, dyr := g.normal(0, 1, shape...)
			dg, du, err := ref.SwiGLUBackward(gr, ur, dyr)
			s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				dgate, dup, err := b.SwiGLUBackward(in[gate], in[up], in[dy])
				if err != nil {
					return nil, err
				}
				return []backend.Tensor{dgate, dup}, nil
			}, dg, du)
			s.names = []string{"dgate", "dup"}
			return s, err
		}})
	}
	return cs
}
