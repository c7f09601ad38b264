package ref

import "fmt"

// strides returns the row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// unravel writes the multi-index of flat index i in shape into idx.
func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

// Permute returns x with out.Shape[i] = x.Shape[perm[i]].
func Permute(x T, perm ...int) (T, error) {
	if err := x.valid("Permute", "x"); err != nil {
		return T{}, err
	}
	if len(perm) != len(x.Shape) {
		return T{}, fmt.Errorf("ref Permute: perm %v for shape %v", perm, x.Shape)
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return T{}, fmt.Errorf("ref Permute: perm %v is not a permutation", perm)
		}
		seen[p] = true
		shape[i] = x.Shape[p]
	}
	out := New(shape...)
	xs := strides(x.Shape)
	idx := make([]int, len(shape))
	for i := range out.Data {
		unravel(i, shape, idx)
		src := 0
		for d, p := range perm {
			src += idx[d] * xs[p]
		}
		out.Data[i] = x.Data[src]
	}
	return out, nil
}

// splitAt views shape as [outer, shape[dim], inner].
func splitAt(shape []int, dim int) (outer, mid, inner int) {
	return numel(shape[:dim]), shape[dim], numel(shape[dim+1:])
}

// Narrow returns x[..., start:start+length, ...] along dim.
func Narrow(x T, dim, start, length int) (T, error) {
	if err := x.valid("Narrow", "x"); err != nil {
		return T{}, err
	}
	if dim < 0 || dim >= len(x.Shape) || start < 0 || length < 0 || start+length > x.Shape[dim] {
		return T{}, fmt.Errorf("ref Narrow: dim %d start %d length %d out of shape %v", dim, start, length, x.Shape)
	}
	shape := append([]int(nil), x.Shape...)
	shape[dim] = length
	out := New(shape...)
	outer, mid, inner := splitAt(x.Shape, dim)
	for o := 0; o < outer; o++ {
		for j := 0; j < length; j++ {
			copy(out.Data[(o*length+j)*inner:(o*length+j+1)*inner], x.Data[(o*mid+start+j)*inner:(o*mid+start+j+1)*inner])
		}
	}
	return out, nil
}

// NarrowAssign returns a copy of dst with src written into
// dst[..., start:start+src.Shape[dim], ...] along dim.
func NarrowAssign(dst T, dim, start int, src T) (T, error) {
	if err := dst.valid("NarrowAssign", "dst"); err != nil {
		return T{}, err
	}
	if err := src.valid("NarrowAssign", "src"); err != nil {
		return T{}, err
	}
	if dim < 0 || dim >= len(dst.Shape) || len(src.Shape) != len(dst.Shape) || start < 0 || start+src.Shape[dim] > dst.Shape[dim] {
		return T{}, fmt.Errorf("ref NarrowAssign: src %v at dim %d start %d does not fit dst %v", src.Shape, dim, start, dst.Shape)
	}
	for d := range dst.Shape {
		if d != dim && dst.Shape[d] != src.Shape[d] {
			return T{}, fmt.Errorf("ref NarrowAssign: src %v and dst %v differ outside dim %d", src.Shape, dst.Shape, dim)
		}
	}
	out := dst.Clone()
	outer, mid, inner := splitAt(dst.Shape, dim)
	length := src.Shape[dim]
	for o := 0; o < outer; o++ {
		for j := 0; j < length; j++ {
			copy(out.Data[(o*mid+start+j)*inner:(o*mid+start+j+1)*inner], src.Data[(o*length+j)*inner:(o*length+j+1)*inner])
		}
	}
	return out, nil
}

// Concat joins xs along dim; every other dimension must agree.
func Concat(dim int, xs ...T) (T, error) {
	if len(xs) == 0 {
		return T{}, fmt.Errorf("ref Concat: no tensors")
	}
	first := xs[0].Shape
	if dim < 0 || dim >= len(first) {
		return T{}, fmt.Errorf("ref Concat: dim %d out of shape %v", dim, first)
	}
	total := 0
	for i, x := range xs {
		if err := x.valid("Concat", fmt.Sprintf("xs[%d]", i)); err != nil {
			return T{}, err
		}
		if len(x.Shape) != len(first) {
			return T{}, fmt.Errorf("ref Concat: xs[%d] shape %v vs %v", i, x.Shape, first)
		}
		for d := range first {
			if d != dim && x.Shape[d] != first[d] {
				return T{}, fmt.Errorf("ref Concat: xs[%d] shape %v vs %v", i, x.Shape, first)
			}
		}
		total += x.Shape[dim]
	}
	shape := append([]int(nil), first...)
	shape[dim] = total
	out := New(shape...)
	outer, _, inner := splitAt(shape, dim)
	for o := 0; o < outer; o++ {
		at := o * total * inner
		for _, x := range xs {
			n := x.Shape[dim] * inner
			copy(out.Data[at:at+n], x.Data[o*n:(o+1)*n])
			at += n
		}
	}
	return out, nil
}

// Gather picks rows of table [V, D] by ids, giving [len(ids), D].
func Gather(table T, ids []int) (T, error) {
	if err := table.valid("Gather", "table"); err != nil {
		return T{}, err
	}
	if len(table.Shape) != 2 {
		return T{}, fmt.Errorf("ref Gather: table shape %v is not [V, D]", table.Shape)
	}
	v, d := table.Shape[0], table.Shape[1]
	out := New(len(ids), d)
	for n, id := range ids {
		if id < 0 || id >= v {
			return T{}, fmt.Errorf("ref Gather: id %d at %d out of [0, %d)", id, n, v)
		}
		copy(out.Data[n*d:(n+1)*d], table.Data[id*d:(id+1)*d])
	}
	return out, nil
}

// ScatterAddRows returns [rows, D] zeros with src [len(ids), D] row n added
// into row ids[n]: the gradient of Gather with respect to its table.
func ScatterAddRows(rows int, ids []int, src T) (T, error) {
	if err := src.valid("ScatterAddRows", "src"); err != nil {
		return T{}, err
	}
	if len(src.Shape) != 2 || src.Shape[0] != len(ids) || rows < 0 {
		return T{}, fmt.Errorf("ref ScatterAddRows: src %v with %d ids into %d rows", src.Shape, len(ids), rows)
	}
	d := src.Shape[1]
	out := New(rows, d)
	for n, id := range ids {
		if id < 0 || id >= rows {
			return T{}, fmt.Errorf("ref ScatterAddRows: id %d at %d out of [0, %d)", id, n, rows)
		}
		for j := 0; j < d; j++ {
			out.Data[id*d+j] += src.Data[n*d+j]
		}
	}
	return out, nil
}

// RepeatKV repeats each head of x [B, Hkv, T, D] n times: output head h is
// input head h / n.
func RepeatKV(x T, n int) (T, error) {
	if err := x.valid("RepeatKV", "x"); err != nil {
		return T{}, err
	}
	if len(x.Shape) != 4 || n < 1 {
		return T{}, fmt.Errorf("ref RepeatKV: shape %v with n %d, want [B, Hkv, T, D] and n ≥ 1", x.Shape, n)
	}
	b, h, td := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	out := New(b, h*n, x.Shape[2], x.Shape[3])
	for i := 0; i < b; i++ {
		for oh := 0; oh < h*n; oh++ {
			copy(out.Data[(i*h*n+oh)*td:(i*h*n+oh+1)*td], x.Data[(i*h+oh/n)*td:(i*h+oh/n+1)*td])
		}
	}
	return out, nil
}

// SumKV sums groups of n consecutive heads: [B, Hkv·n, T, D] → [B, Hkv, T, D],
// the gradient of RepeatKV.
func SumKV(x T, n int) (T, error) {
	if err := x.valid("SumKV", "x"); err != nil {
		return T{}, err
	}
	if len(x.Shape) != 4 || n < 1 || x.Shape[1]%n != 0 {
		return T{}, fmt.Errorf("ref SumKV: shape %v with n %d, want [B, Hkv·n, T, D]", x.Shape, n)
	}
	b, hn, td := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	h := hn / n
	out := New(b, h, x.Shape[2], x.Shape[3])
	for i := 0; i < b; i++ {
		for ih := 0; ih < hn; ih++ {
			dst := out.Data[(i*h+ih/n)*td : (i*h+ih/n+1)*td]
			src := x.Data[(i*hn+ih)*td : (i*hn+ih+1)*td]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	}
	return out, nil
}
