package cpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// smallProduct is the multiply-add count under which one matrix product of a
// batch runs on a single goroutine, the batch itself being spread over the
// workers instead (attention's many small per-head products).
const smallProduct = 1 << 21

// MatMul multiplies a [..., M, K] by b [..., K, N] or a shared 2-D b.
func (b *Backend) MatMul(a, bt backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	const op = "matmul"
	x, err := b.tensorOf(op, "a", a)
	if err != nil {
		return nil, err
	}
	y, err := b.tensorOf(op, "b", bt)
	if err != nil {
		return nil, err
	}
	as, bs := x.shape, y.shape
	ra, rb := len(as), len(bs)
	m, k := as[ra-2], as[ra-1]
	aOp := operand{f: x.f, dtype: backend.F32, rs: k, cs: 1}
	if o.TransA {
		m, k = k, m
		aOp.rs, aOp.cs = 1, m
	}
	n := bs[rb-1]
	bOp := operand{f: y.f, h: y.h, q: y.q, dtype: y.dtype, rs: n, cs: 1}
	if o.TransB {
		n = bs[rb-2]
		bOp.rs, bOp.cs = 1, k
	}
	batch := numel(as[:ra-2])
	bStride := k * n
	if rb == 2 {
		bStride = 0
	}
	out := b.newF32Dirty(append(append([]int(nil), as[:ra-2]...), m, n)...)
	one := func(i int, parallel bool) {
		g := gemm{m: m, n: n, k: k, a: aOp, b: bOp, alpha: o.Alpha, c: out.f[i*m*n : (i+1)*m*n], ldc: n}
		g.a.f = x.f[i*m*k:]
		switch g.b.dtype {
		case backend.F32:
			g.b.f = y.f[i*bStride:]
		case backend.F16, backend.BF16:
			g.b.h = y.h[i*bStride:]
		}
		g.run(b, parallel)
	}
	if batch > 1 && m*n*k < smallProduct {
		b.parallelFor(batch, m*n*k, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, false)
			}
		})
	} else {
		for i := range batch {
			one(i, true)
		}
	}
	return out, nil
}

// Linear computes ((x ⊙ InScale) · Wᵀ + Bias) ⊙ OutScale with one matrix
// product: the input scale multiplies x while its rows are packed (the
// order PEFT uses, without a scaled copy of x), bias and output scale run in
// the product's epilogue while the block is hot.
func (b *Backend) Linear(xt, wt backend.Tensor, o backend.LinearOptions) (backend.Tensor, error) {
	const op = "linear"
	x, err := b.tensorOf(op, "x", xt)
	if err != nil {
		return nil, err
	}
	w, err := b.tensorOf(op, "w", wt)
	if err != nil {
		return nil, err
	}
	opts, err := b.linearOptions(o)
	if err != nil {
		return nil, err
	}
	in, out := w.shape[1], w.shape[0]
	wOp := operand{f: w.f, h: w.h, q: w.q, dtype: w.dtype, rs: 1, cs: in} // B[k, n] = W[n, k]
	if o.FanInFanOut {
		in, out = w.shape[0], w.shape[1]
		wOp.rs, wOp.cs = out, 1
	}
	rows := len(x.f) / in
	if err := opts.checkIndex(rows); err != nil {
		return nil, err
	}
	shape := append(append([]int(nil), x.shape[:len(x.shape)-1]...), out)
	y := b.newF32Dirty(shape...)
	g := gemm{m: rows, n: out, k: in, a: operand{f: x.f, dtype: backend.F32, rs: in, cs: 1, colScale: opts.in, index: opts.index}, b: wOp, c: y.f, ldc: out}
	if opts.bias != nil || opts.out != nil {
		g.epilogue = func(i0, i1, j0, j1 int) {
			for i := i0; i < i1; i++ {
				row := y.f[i*out+j0 : i*out+j1]
				if opts.bias != nil {
					addInto(row, row, opts.bias[j0:j1])
				}
				if s := opts.out.row(opts.index, i); s != nil {
					mulInto(row, row, s[j0:j1])
				}
			}
		}
	}
	g.run(b, true)
	return y, nil
}

// scale is an (IA)³ vector of n features, or A of them stacked.
type scale struct {
	v       []float32
	n       int
	stacked bool
}

// row returns the vector that scales row r, or nil when the row is
// unscaled (index −1) or there is no scale.
func (s *scale) row(index []int32, r int) []float32 {
	if s == nil {
		return nil
	}
	if !s.stacked {
		return s.v
	}
	a := int(index[r])
	if a < 0 {
		return nil
	}
	return s.v[a*s.n : (a+1)*s.n]
}

// linearOpts is LinearOptions resolved to host slices.
type linearOpts struct {
	bias    []float32
	out, in *scale
	index   []int32
	stacks  int
}

func (b *Backend) linearOptions(o backend.LinearOptions) (linearOpts, error) {
	const op = "linear"
	var r linearOpts
	bias, err := b.optTensorOf(op, "bias", o.Bias)
	if err != nil {
		return r, err
	}
	if bias != nil {
		r.bias = bias.f
	}
	for _, s := range []struct {
		name string
		t    backend.Tensor
		dst  **scale
	}{{"out_scale", o.OutScale, &r.out}, {"in_scale", o.InScale, &r.in}} {
		t, err := b.optTensorOf(op, s.name, s.t)
		if err != nil {
			return r, err
		}
		if t == nil {
			continue
		}
		sc := &scale{v: t.f, n: t.shape[len(t.shape)-1], stacked: len(t.shape) == 2}
		if sc.stacked {
			r.stacks = t.shape[0]
		}
		*s.dst = sc
	}
	idx, err := b.optTensorOf(op, "scale_index", o.ScaleIndex)
	if err != nil {
		return r, err
	}
	if idx != nil {
		r.index = idx.i
	}
	return r, nil
}

// checkIndex verifies that every ScaleIndex entry names a stacked vector or
// is −1: the one data-dependent rule of Linear.
func (o *linearOpts) checkIndex(rows int) error {
	if o.index == nil {
		return nil
	}
	if len(o.index) != rows {
		return fmt.Errorf("linear: scale_index has %d entries for %d rows", len(o.index), rows)
	}
	for r, a := range o.index {
		if a < -1 || int(a) >= o.stacks {
			return fmt.Errorf("linear: scale_index[%d] = %d out of range [-1, %d)", r, a, o.stacks)
		}
	}
	return nil
}
