//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Linear applies x [..., in] to w ([out, in], or [in, out] with
// FanInFanOut) with the options' bias and (IA)³ scales fused into the
// tiled matmul: the input scale is applied as x is loaded, the bias and the
// output scale in the epilogue. w may be F16/BF16.
func (b *Backend) Linear(x, w backend.Tensor, o backend.LinearOptions) (backend.Tensor, error) {
	if y, ok, err := b.linearSplit(x, w, o); ok {
		return y, err
	}
	xt, err := b.f32("Linear", x)
	if err != nil {
		return nil, err
	}
	wt, err := b.tensorOf("Linear", w)
	if err != nil {
		return nil, err
	}
	if len(xt.shape) < 1 || len(wt.shape) != 2 || !wt.dtype.IsFloat() {
		return nil, fmt.Errorf("webgpu: Linear: x %v, w %v %s: want x at least 1-D and w a 2-D float tensor", xt.shape, wt.shape, wt.dtype)
	}
	if err := checkQuantWeight("Linear", wt, o.FanInFanOut); err != nil {
		return nil, err
	}
	in, out := wt.shape[1], wt.shape[0]
	if o.FanInFanOut {
		in, out = out, in
	}
	if xt.shape[len(xt.shape)-1] != in {
		return nil, fmt.Errorf("webgpu: Linear: x %v does not match w %v (fan_in_fan_out %v)", xt.shape, wt.shape, o.FanInFanOut)
	}
	rows := 0
	if in > 0 {
		rows = xt.n / in
	} else {
		rows = 1
		for _, d := range xt.shape[:len(xt.shape)-1] {
			rows *= d
		}
	}
	c := &matmulCall{op: "Linear", a: xt, b: wt, batch: 1}
	c.p = matmulParams{M: uint32(rows), N: uint32(out), K: uint32(in), BDT: dtCode(wt.dtype), Alpha: 1,
		SAM: uint32(in), SAK: 1, SAB: uint32(rows * in), SBK: 1, SBN: uint32(in)}
	if o.FanInFanOut {
		c.p.SBK, c.p.SBN = uint32(out), 1
	}
	if c.bias, err = b.vectorArg("Linear", "Bias", o.Bias, out); err != nil {
		return nil, err
	}
	if c.bias != nil {
		c.p.Flags |= mmBias
	}
	var outStacked, inStacked bool
	if c.outScale, outStacked, err = b.scaleArg("OutScale", o.OutScale, out); err != nil {
		return nil, err
	}
	if c.inScale, inStacked, err = b.scaleArg("InScale", o.InScale, in); err != nil {
		return nil, err
	}
	if c.outScale != nil {
		c.p.Flags |= mmOutScale
	}
	if c.inScale != nil {
		c.p.Flags |= mmInScale
	}
	if outStacked || inStacked {
		if o.ScaleIndex == nil {
			return nil, fmt.Errorf("webgpu: Linear: scales are stacked [A, n] but ScaleIndex is nil")
		}
		if c.index, err = b.tensorOf("Linear", o.ScaleIndex); err != nil {
			return nil, err
		}
		if c.index.dtype != backend.I32 || !slices.Equal(c.index.shape, []int{rows}) {
			return nil, fmt.Errorf("webgpu: Linear: ScaleIndex %v %s: want I32 [%d]", c.index.shape, c.index.dtype, rows)
		}
		if outStacked {
			c.p.Flags |= mmOutIndexed
		}
		if inStacked {
			c.p.Flags |= mmInIndexed
		}
	}
	c.out, err = b.alloc("Linear", backend.F32, append(slices.Clone(xt.shape[:len(xt.shape)-1]), out)...)
	if err != nil {
		return nil, err
	}
	if err := b.runMatMul(c); err != nil {
		b.Free(c.out)
		return nil, fmt.Errorf("webgpu: Linear %v × %v: %w", xt.shape, wt.shape, err)
	}
	return c.out, nil
}

// vectorArg resolves an optional F32 [n] argument.
func (b *Backend) vectorArg(op, name string, t backend.Tensor, n int) (*tensor, error) {
	if t == nil {
		return nil, nil
	}
	v, err := b.f32(op, t)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, name)
	}
	if !slices.Equal(v.shape, []int{n}) {
		return nil, fmt.Errorf("webgpu: %s: %s %v: want [%d]", op, name, v.shape, n)
	}
	return v, nil
}

// scaleArg resolves an optional (IA)³ scale of n features, [n] or [A, n],
// reporting whether it is stacked.
func (b *Backend) scaleArg(name string, t backend.Tensor, n int) (*tensor, bool, error) {
	if t == nil {
		return nil, false, nil
	}
	v, err := b.f32("Linear", t)
	if err != nil {
		return nil, false, fmt.Errorf("%w (%s)", err, name)
	}
	switch {
	case len(v.shape) == 1 && v.shape[0] == n:
		return v, false, nil
	case len(v.shape) == 2 && v.shape[1] == n:
		return v, true, nil
	}
	return nil, false, fmt.Errorf("webgpu: Linear: %s %v: want [%d] or [A, %d]", name, v.shape, n, n)
}
