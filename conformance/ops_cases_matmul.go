package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// matmulCases cover MatMul's batching, transposes, alpha and half-precision
// right operands, and Linear's bias, fan_in_fan_out and (IA)³ scales.
func matmulCases() []opCase {
	var cs []opCase
	for _, v := range []struct {
		lead           []int // a's batch dimensions
		shared         bool  // b is 2-D, shared by the batch
		m, k, n        int
		transA, transB bool
		alpha          float32
		dtype          backend.DType
	}{
		{m: 1, k: 1, n: 1},
		{m: 3, k: 7, n: 5},
		{m: 33, k: 129, n: 7},
		{m: 7, k: 1029, n: 33},
		{m: 1, k: 33, n: 1029},
		{lead: []int{2, 3}, m: 5, k: 7, n: 9},
		{lead: []int{2}, shared: true, m: 33, k: 7, n: 3},
		{m: 3, k: 33, n: 7, transA: true},
		{m: 7, k: 33, n: 3, transB: true},
		{lead: []int{1, 2}, m: 7, k: 16, n: 9, transB: true, alpha: 0.25}, // q·kᵀ/√d
		{lead: []int{2, 1}, m: 9, k: 7, n: 5, transA: true, transB: true},
		{m: 5, k: 129, n: 33, dtype: backend.F16},
		{lead: []int{3}, shared: true, m: 7, k: 33, n: 129, transB: true, dtype: backend.BF16},
		{m: 3, k: 7, n: 1, alpha: -1.5},
		{m: 1029, k: 7, n: 3},                // many rows
		{lead: []int{129}, m: 3, k: 7, n: 5}, // many batches
		// Both M and N ≥ 128: the large-tile kernel GPUs use.
		{lead: []int{2}, m: 129, k: 65, n: 257},
		{m: 257, k: 33, n: 130, transA: true, transB: true, dtype: backend.BF16},
	} {
		a := append(append([]int(nil), v.lead...), v.m, v.k)
		if v.transA {
			a = append(append([]int(nil), v.lead...), v.k, v.m)
		}
		b := []int{v.k, v.n}
		if v.transB {
			b = []int{v.n, v.k}
		}
		if !v.shared {
			b = append(append([]int(nil), v.lead...), b...)
		}
		name := fmt.Sprintf("%v×%s%v", a, v.dtype, b)
		if v.transA {
			name += " transA"
		}
		if v.transB {
			name += " transB"
		}
		if v.alpha != 0 {
			name += fmt.Sprintf(" alpha %g", v.alpha)
		}
		cs = append(cs, opCase{op: "MatMul", shape: name, k: v.k, build: func(g *gen) (*spec, error) {
			ai, ar := g.normal(0, 1, a...)
			bi, br := g.weight(v.dtype, 1, b...)
			alpha := float64(v.alpha)
			if alpha == 0 {
				alpha = 1 // the documented meaning of 0
			}
			want, err := ref.MatMul(ar, br, v.transA, v.transB, alpha)
			o := backend.MatMulOptions{TransA: v.transA, TransB: v.transB, Alpha: v.alpha}
			return g.done(func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.MatMul(in[ai], in[bi], o))
			}, want), err
		}})
	}
	return append(cs, linearCases()...)
}

// linearVariant is one Linear case.
type linearVariant struct {
	x                 []int // [..., in]
	out               int
	dtype             backend.DType
	fanInFanOut, bias bool
	outScale, inScale bool
	stack             int // > 0: scales are [stack, n], with a per-row index
}

func (v linearVariant) String() string {
	s := fmt.Sprintf("x%v out %d %v", v.x, v.out, v.dtype)
	for _, f := range []struct {
		on   bool
		name string
	}{{v.fanInFanOut, "fan_in_fan_out"}, {v.bias, "bias"}, {v.outScale, "out_scale"}, {v.inScale, "in_scale"}} {
		if f.on {
			s += " " + f.name
		}
	}
	if v.stack > 0 {
		s += fmt.Sprintf(" stacked %d", v.stack)
	}
	return s
}

func linearCases() []opCase {
	var cs []opCase
	for _, v := range []linearVariant{
		{x: []int{1, 1}, out: 1},
		{x: []int{3, 7}, out: 5, bias: true},
		{x: []int{2, 3, 33}, out: 129, dtype: backend.F16, bias: true},
		{x: []int{7, 1029}, out: 33, dtype: backend.BF16},
		{x: []int{5, 33}, out: 129, fanInFanOut: true, bias: true}, // GPT-2's Conv1D
		{x: []int{3, 129}, out: 7, outScale: true},                 // (IA)³ on keys/values
		{x: []int{2, 7, 33}, out: 1029, inScale: true, bias: true}, // (IA)³ on a feed-forward input
		{x: []int{3, 33}, out: 7, outScale: true, inScale: true, dtype: backend.F16},
		{x: []int{2, 4, 33}, out: 7, outScale: true, stack: 3, bias: true},
		{x: []int{9, 129}, out: 33, inScale: true, stack: 2, fanInFanOut: true, dtype: backend.F16},
		{x: []int{1, 7}, out: 3, outScale: true, inScale: true, stack: 1},
		{x: []int{1029, 7}, out: 3, outScale: true, stack: 4, bias: true}, // a large mixed-adapter batch
		// Rows and outputs ≥ 128: the large-tile kernel GPUs use, with every epilogue.
		{x: []int{2, 150, 65}, out: 257, outScale: true, inScale: true, stack: 3, bias: true},
		{x: []int{130, 129}, out: 129, inScale: true, fanInFanOut: true, dtype: backend.F16},
	} {
		cs = append(cs, opCase{op: "Linear", shape: v.String(), k: v.x[len(v.x)-1], build: func(g *gen) (*spec, error) {
			return buildLinear(g, v)
		}})
	}
	return cs
}

// buildLinear generates a Linear case. Stacked scales get an index that
// uses every vector and turns scaling off (-1) for some rows.
func buildLinear(g *gen, v linearVariant) (*spec, error) {
	in := v.x[len(v.x)-1]
	rows := numel(v.x[:len(v.x)-1])
	xi, xr := g.normal(0, 1, v.x...)
	wShape := []int{v.out, in}
	if v.fanInFanOut {
		wShape = []int{in, v.out}
	}
	var wi int
	var wr ref.T
	if v.dtype.IsQuantized() {
		var err error
		if wi, wr, err = g.quantizedWeight(v.dtype, 0.3, wShape[0], wShape[1]); err != nil {
			return nil, err
		}
	} else {
		wi, wr = g.weight(v.dtype, 0.3, wShape...)
	}
	ro := ref.LinearOpts{FanInFanOut: v.fanInFanOut}
	slot := map[string]int{}
	if v.bias {
		i, r := g.normal(0, 0.5, v.out)
		slot["bias"], ro.Bias = i, &r
	}
	scale := func(n int) (int, *ref.T) {
		shape := []int{n}
		if v.stack > 0 {
			shape = []int{v.stack, n}
		}
		i, r := g.normal(1, 0.3, shape...) // (IA)³ vectors sit near 1
		return i, &r
	}
	if v.outScale {
		slot["out"], ro.OutScale = scale(v.out)
	}
	if v.inScale {
		slot["in"], ro.InScale = scale(in)
	}
	if v.stack > 0 {
		idx := make([]int, rows)
		for r := range idx {
			idx[r] = r%(v.stack+1) - 1 // -1, 0, 1, …, stack-1, -1, …
		}
		ro.ScaleIndex = idx
		slot["index"] = g.i32(idx, rows)
	}
	want, err := ref.Linear(xr, wr, ro)
	return g.done(func(b backend.Backend, t []backend.Tensor) ([]backend.Tensor, error) {
		o := backend.LinearOptions{FanInFanOut: v.fanInFanOut}
		for name, dst := range map[string]*backend.Tensor{"bias": &o.Bias, "out": &o.OutScale, "in": &o.InScale, "index": &o.ScaleIndex} {
			if i, ok := slot[name]; ok {
				*dst = t[i]
			}
		}
		return one(b.Linear(t[xi], t[wi], o))
	}, want), err
}
