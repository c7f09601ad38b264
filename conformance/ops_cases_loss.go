package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// lossCases cover CrossEntropy (with ignored rows and with every row
// ignored), SumRows and SumSquares.
func lossCases() []opCase {
	var cs []opCase
	for _, v := range []struct {
		n, v    int
		ignore  int32
		ignored int // how many rows carry the ignore label
	}{
		{1, 1, -100, 0},
		{3, 7, -100, 1},
		{33, 129, -1, 5},
		{7, 1029, -100, 2},
		{3, 7, -100, 3}, // no counted row: NaN loss, zero gradient
		{2, 33, 5, 1},   // an ignore index inside [0, V)
	} {
		cs = append(cs, opCase{op: "CrossEntropy", shape: fmt.Sprintf("[%d %d] ignore %d on %d rows", v.n, v.v, v.ignore, v.ignored), k: v.v, build: func(g *gen) (*spec, error) {
			logits, lr := g.normal(0, 2, v.n, v.v)
			labels := g.ints(v.n, v.v)
			for i := range labels {
				if i < v.ignored {
					labels[i] = int(v.ignore)
				} else if labels[i] == int(v.ignore) {
					labels[i] = (labels[i] + 1) % v.v // a counted row must not hit the ignore index
				}
			}
			li := g.i32(labels, v.n)
			loss, grad, err := ref.CrossEntropy(lr, labels, int(v.ignore))
			s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				l, d, err := b.CrossEntropy(in[logits], in[li], v.ignore)
				if err != nil {
					return nil, err
				}
				return []backend.Tensor{l, d}, nil
			}, ref.T{Shape: []int{1}, Data: []float64{loss}}, grad)
			s.names = []string{"loss", "dlogits"}
			return s, err
		}})
	}
	for _, shape := range [][]int{{1}, {3, 7}, {2, 33, 129}, {1029, 3}, {7, 1029}} {
		rows := numel(shape[:len(shape)-1])
		cs = append(cs, opCase{op: "SumRows", shape: shapeStr(shape), k: rows, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0.2, 1, shape...)
			want, err := ref.SumRows(xr)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.SumRows(in[x]))
			}, want), err
		}})
	}
	for _, shape := range [][]int{{1}, {3, 7}, {1029, 33}} {
		cs = append(cs, opCase{op: "SumSquares", shape: shapeStr(shape), k: numel(shape), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, shape...)
			want, err := ref.SumSquares(xr)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.SumSquares(in[x]))
			}, want), err
		}})
	}
	return cs
}
