//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// AddNorm returns sum = a + b and the norm o names of sum in one dispatch
// (add_layernorm or add_rmsnorm in norm.wgsl): the residual stream is read
// once and the sum written once, where Add then LayerNorm write it and
// read it back three times.
func (b *Backend) AddNorm(a, x backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	const op = "AddNorm"
	at, err := b.tensorOf(op, a)
	if err != nil {
		return nil, nil, err
	}
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, nil, err
	}
	rows, d, err := normRows(op, at)
	if err != nil {
		return nil, nil, err
	}
	if xt.n != at.n || xt.dtype != backend.F32 {
		return nil, nil, fmt.Errorf("webgpu: %s: b %v %s: want F32 of a's shape %v", op, xt.shape, xt.dtype, at.shape)
	}
	wt, hasW, err := b.optional(op, "weight", o.Weight, 0)
	if err != nil {
		return nil, nil, err
	}
	bt, hasB, err := b.optional(op, "bias", o.Bias, 1)
	if err != nil {
		return nil, nil, err
	}
	entry := "add_layernorm"
	if o.RMS {
		entry = "add_rmsnorm"
	}
	var flags uint32
	if hasW {
		flags |= normHasWeight
	}
	if hasB {
		flags |= normHasBeta
	}
	sum, err := b.alloc(op, backend.F32, at.shape...)
	if err != nil {
		return nil, nil, err
	}
	y, err := b.alloc(op, backend.F32, at.shape...)
	if err != nil {
		b.Free(sum)
		return nil, nil, err
	}
	if rows == 0 || d == 0 {
		return sum, y, nil
	}
	p := normParams{Rows: uint32(rows), D: uint32(d), Eps: o.Eps, Flags: flags}
	if err := b.dispatch("norm.wgsl", entry, &p, b.rowGroups(rows), y, at, wt, bt, xt, sum); err != nil {
		b.Free(sum)
		b.Free(y)
		return nil, nil, fmt.Errorf("webgpu: %s a %v: %w", op, at.shape, err)
	}
	return sum, y, nil
}

// NormBackwardAdd returns dres + the norm's input gradient in one dispatch
// (layernorm_backward_add or rmsnorm_backward_add), where the norm's
// backward then Add write dx and read it back.
func (b *Backend) NormBackwardAdd(x, dy, dres backend.Tensor, o backend.NormOptions) (backend.Tensor, error) {
	const op = "NormBackwardAdd"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	dt, err := b.tensorOf(op, dy)
	if err != nil {
		return nil, err
	}
	rt, err := b.tensorOf(op, dres)
	if err != nil {
		return nil, err
	}
	rows, d, err := normRows(op, xt)
	if err != nil {
		return nil, err
	}
	for _, t := range []*tensor{dt, rt} {
		if t.n != xt.n || t.dtype != backend.F32 {
			return nil, fmt.Errorf("webgpu: %s: dy and dres must be F32 of x's shape %v, got %v %s", op, xt.shape, t.shape, t.dtype)
		}
	}
	wt, hasW, err := b.optional(op, "weight", o.Weight, 0)
	if err != nil {
		return nil, err
	}
	entry := "layernorm_backward_add"
	if o.RMS {
		entry = "rmsnorm_backward_add"
	}
	var flags uint32
	if hasW {
		flags |= normHasWeight
	}
	out, err := b.alloc(op, backend.F32, xt.shape...)
	if err != nil {
		return nil, err
	}
	if rows == 0 || d == 0 {
		return out, nil
	}
	p := normParams{Rows: uint32(rows), D: uint32(d), Eps: o.Eps, Flags: flags}
	if err := b.dispatch("norm.wgsl", entry, &p, b.rowGroups(rows), out, xt, wt, dt, rt); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v: %w", op, xt.shape, err)
	}
	return out, nil
}
