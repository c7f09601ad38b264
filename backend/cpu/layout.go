package cpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// Permute reorders up to four dimensions: out.Shape[i] = x.Shape[perm[i]].
func (b *Backend) Permute(xt backend.Tensor, perm ...int) (backend.Tensor, error) {
	x, err := b.tensorOf("permute", "x", xt)
	if err != nil {
		return nil, err
	}
	r := len(x.shape)
	// Pad to four dimensions with leading 1s so one loop nest serves all.
	var shape, stride [4]int
	inStride := make([]int, r)
	s := 1
	for d := r - 1; d >= 0; d-- {
		inStride[d] = s
		s *= x.shape[d]
	}
	outShape := make([]int, r)
	for i := range 4 {
		shape[i], stride[i] = 1, 0
	}
	for i, d := range perm {
		outShape[i] = x.shape[d]
		shape[4-r+i] = x.shape[d]
		stride[4-r+i] = inStride[d]
	}
	out := b.newF32(outShape...)
	n1, n2, n3 := shape[1], shape[2], shape[3]
	b.parallelFor(shape[0]*n1, n2*n3, func(lo, hi int) {
		for ij := lo; ij < hi; ij++ {
			i, j := ij/n1, ij%n1
			o := ij * n2 * n3
			for k := range n2 {
				src := i*stride[0] + j*stride[1] + k*stride[2]
				dst := out.f[o+k*n3 : o+(k+1)*n3]
				if stride[3] == 1 {
					copy(dst, x.f[src:src+n3])
					continue
				}
				for l := range dst {
					dst[l] = x.f[src+l*stride[3]]
				}
			}
		}
	})
	return out, nil
}

// split returns the element counts before dim, of dim, and after dim.
func split(shape []int, dim int) (outer, size, inner int) {
	return numel(shape[:dim]), shape[dim], numel(shape[dim+1:])
}

// Narrow copies x[..., start:start+length, ...] along dim.
func (b *Backend) Narrow(xt backend.Tensor, dim, start, length int) (backend.Tensor, error) {
	x, err := b.tensorOf("narrow", "x", xt)
	if err != nil {
		return nil, err
	}
	outer, size, inner := split(x.shape, dim)
	shape := append([]int(nil), x.shape...)
	shape[dim] = length
	out := b.newF32(shape...)
	for o := range outer {
		copy(out.f[o*length*inner:(o+1)*length*inner], x.f[(o*size+start)*inner:(o*size+start+length)*inner])
	}
	return out, nil
}

// NarrowAssign writes src into dst[..., start:start+len, ...] in place.
func (b *Backend) NarrowAssign(dstT backend.Tensor, dim, start int, srcT backend.Tensor) error {
	dst, err := b.tensorOf("narrow_assign", "dst", dstT)
	if err != nil {
		return err
	}
	src, err := b.tensorOf("narrow_assign", "src", srcT)
	if err != nil {
		return err
	}
	outer, size, inner := split(dst.shape, dim)
	length := src.shape[dim]
	for o := range outer {
		copy(dst.f[(o*size+start)*inner:(o*size+start+length)*inner], src.f[o*length*inner:(o+1)*length*inner])
	}
	return nil
}

// Concat joins tensors along dim.
func (b *Backend) Concat(dim int, xs ...backend.Tensor) (backend.Tensor, error) {
	parts := make([]*tensor, len(xs))
	total := 0
	for i, t := range xs {
		x, err := b.tensorOf("concat", fmt.Sprintf("xs[%d]", i), t)
		if err != nil {
			return nil, err
		}
		parts[i] = x
		total += x.shape[dim]
	}
	shape := append([]int(nil), parts[0].shape...)
	shape[dim] = total
	out := b.newF32(shape...)
	outer, _, inner := split(shape, dim)
	at := 0
	for _, x := range parts {
		n := x.shape[dim] * inner
		for o := range outer {
			copy(out.f[(o*total+at)*inner:(o*total+at)*inner+n], x.f[o*n:(o+1)*n])
		}
		at += x.shape[dim]
	}
	return out, nil
}

// Gather picks rows of table [V, D] by ids [N], widening F16/BF16.
func (b *Backend) Gather(tableT, idsT backend.Tensor) (backend.Tensor, error) {
	table, err := b.tensorOf("gather", "table", tableT)
	if err != nil {
		return nil, err
	}
	ids, err := b.tensorOf("gather", "ids", idsT)
	if err != nil {
		return nil, err
	}
	v, d := table.shape[0], table.shape[1]
	if err := checkIDs("gather", ids.i, v); err != nil {
		return nil, err
	}
	out := b.newF32(len(ids.i), d)
	for n, id := range ids.i {
		dst := out.f[n*d : (n+1)*d]
		if table.dtype == backend.F32 {
			copy(dst, table.f[int(id)*d:])
		} else {
			widen(dst, table.h[int(id)*d:], table.dtype)
		}
	}
	return out, nil
}

// ScatterAddRows adds src [N, D] into the rows of a [rows, D] zero tensor
// named by ids, in order: the backward of Gather.
func (b *Backend) ScatterAddRows(rows int, idsT, srcT backend.Tensor) (backend.Tensor, error) {
	ids, err := b.tensorOf("scatter_add_rows", "ids", idsT)
	if err != nil {
		return nil, err
	}
	src, err := b.tensorOf("scatter_add_rows", "src", srcT)
	if err != nil {
		return nil, err
	}
	if err := checkIDs("scatter_add_rows", ids.i, rows); err != nil {
		return nil, err
	}
	d := src.shape[1]
	out := b.newF32(rows, d)
	for n, id := range ids.i {
		row := out.f[int(id)*d : (int(id)+1)*d]
		addInto(row, row, src.f[n*d:(n+1)*d])
	}
	return out, nil
}

// checkIDs requires every id to index one of v rows.
func checkIDs(op string, ids []int32, v int) error {
	for n, id := range ids {
		if id < 0 || int(id) >= v {
			return fmt.Errorf("%s: id %d at position %d out of range [0, %d)", op, id, n, v)
		}
	}
	return nil
}

// RepeatKV repeats each head of x [B, Hkv, T, D] n times.
func (b *Backend) RepeatKV(xt backend.Tensor, n int) (backend.Tensor, error) {
	x, err := b.tensorOf("repeat_kv", "x", xt)
	if err != nil {
		return nil, err
	}
	bs, h, td := x.shape[0], x.shape[1], x.shape[2]*x.shape[3]
	out := b.newF32(bs, h*n, x.shape[2], x.shape[3])
	for i := range bs * h * n {
		src := (i / n) * td // head (bi, h) of the output row i comes from input head i/n
		copy(out.f[i*td:(i+1)*td], x.f[src:src+td])
	}
	return out, nil
}

// SumKV sums each group of n heads of x [B, Hkv·n, T, D]: RepeatKV's
// backward.
func (b *Backend) SumKV(xt backend.Tensor, n int) (backend.Tensor, error) {
	x, err := b.tensorOf("sum_kv", "x", xt)
	if err != nil {
		return nil, err
	}
	bs, h, td := x.shape[0], x.shape[1]/n, x.shape[2]*x.shape[3]
	out := b.newF32(bs, h, x.shape[2], x.shape[3])
	for g := range bs * h {
		dst := out.f[g*td : (g+1)*td]
		for r := range n {
			addInto(dst, dst, x.f[(g*n+r)*td:(g*n+r+1)*td])
		}
	}
	return out, nil
}
