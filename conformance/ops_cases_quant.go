package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// quantizedCases cover the operations that take a Q8_0 or NF4 weight
// (docs/quantization.md): the upload read back dequantized, Copy, the
// merge's ScaleRows/ScaleCols, MatMul with the weight as b read either way
// (the forward a·Wᵀ, a Linear's backward dz·W), and Linear with every
// option, on shapes that take the streaming, small-tile and large-tile
// paths. The reference is the float64 product of the dequantized weight
// (package quant decodes it), so the rows measure the device's decoding and
// arithmetic, not the quantization error. They run only on devices that
// report QuantizedWeights.
func quantizedCases() []opCase {
	var cs []opCase
	add := func(c opCase) {
		c.quantized = true
		c.tol = c.op + "/quantized"
		cs = append(cs, c)
	}
	dtypes := []backend.DType{backend.Q8_0, backend.NF4}
	for _, dt := range dtypes {
		for _, shape := range [][2]int{{1, 64}, {33, 128}, {300, 576}} {
			add(opCase{op: "FromBytes", shape: fmt.Sprintf("%v %v", dt, shape), build: func(g *gen) (*spec, error) {
				wi, wr, err := g.quantizedWeight(dt, 1, shape[0], shape[1])
				return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return in[wi : wi+1], nil
				}, wr), err
			}})
		}
		add(opCase{op: "Copy", shape: fmt.Sprintf("%v [7 192]", dt), build: func(g *gen) (*spec, error) {
			wi, wr, err := g.quantizedWeight(dt, 1, 7, 192)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Copy(in[wi]))
			}, wr), err
		}})
		for _, sc := range []struct {
			name   string
			axis   int
			invert bool
		}{{"ScaleRows", 0, false}, {"ScaleCols", 1, false}, {"ScaleRows", 0, true}, {"ScaleCols", 1, true}} {
			name := fmt.Sprintf("%v [33 128]", dt)
			if sc.invert {
				name += " invert"
			}
			add(opCase{op: sc.name, shape: name, build: func(g *gen) (*spec, error) {
				wi, wr, err := g.quantizedWeight(dt, 1, 33, 128)
				if err != nil {
					return nil, err
				}
				n := wr.Shape[sc.axis]
				vi, vr := g.normal(1, 0.3, n)
				refFn, call := ref.ScaleRows, backend.Backend.ScaleRows
				if sc.axis == 1 {
					refFn, call = ref.ScaleCols, backend.Backend.ScaleCols
				}
				want, err := refFn(wr, vr, sc.invert)
				return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(call(b, in[wi], in[vi], sc.invert))
				}, want), err
			}})
		}
		for _, v := range []struct {
			lead   []int
			m      int
			r, c   int // the weight's shape
			transB bool
			alpha  float32
		}{
			{m: 1, r: 33, c: 128, transB: true},                 // one token: the streaming path
			{lead: []int{2}, m: 9, r: 40, c: 192, transB: true}, // a forward over a batch
			{m: 130, r: 257, c: 256, transB: true, alpha: 0.5},  // M, N ≥ 128: GPUs' large tile
			{m: 3, r: 40, c: 128},                               // dx = dz·W of three rows
			{lead: []int{2}, m: 65, r: 129, c: 192},             // the backward over a batch
		} {
			kk := v.c // a·Wᵀ: a [.., m, c], result [.., m, r]
			if !v.transB {
				kk = v.r // a·W: a [.., m, r], result [.., m, c]
			}
			a := append(append([]int(nil), v.lead...), v.m, kk)
			name := fmt.Sprintf("%v×%v[%d %d]", a, dt, v.r, v.c)
			if v.transB {
				name += " transB"
			}
			if v.alpha != 0 {
				name += fmt.Sprintf(" alpha %g", v.alpha)
			}
			add(opCase{op: "MatMul", shape: name, k: kk, build: func(g *gen) (*spec, error) {
				ai, ar := g.normal(0, 1, a...)
				bi, br, err := g.quantizedWeight(dt, 1, v.r, v.c)
				if err != nil {
					return nil, err
				}
				alpha := float64(v.alpha)
				if alpha == 0 {
					alpha = 1
				}
				want, err := ref.MatMul(ar, br, false, v.transB, alpha)
				o := backend.MatMulOptions{TransB: v.transB, Alpha: v.alpha}
				return g.done(func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					return one(be.MatMul(in[ai], in[bi], o))
				}, want), err
			}})
		}
		for _, v := range []linearVariant{
			{x: []int{1, 128}, out: 33, bias: true},
			{x: []int{3, 192}, out: 7, outScale: true},
			{x: []int{2, 7, 128}, out: 129, inScale: true, bias: true},
			{x: []int{2, 4, 64}, out: 7, outScale: true, inScale: true, stack: 3, bias: true},
			{x: []int{2, 150, 128}, out: 257, outScale: true, inScale: true, stack: 3, bias: true},
		} {
			v.dtype = dt
			add(opCase{op: "Linear", shape: v.String(), k: v.x[len(v.x)-1], build: func(g *gen) (*spec, error) {
				return buildLinear(g, v)
			}})
		}
	}
	return cs
}
