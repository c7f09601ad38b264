//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// This file holds the operations on tensors split over several buffers
// (chunked.go) that a large embedding, LM head or projection needs: the
// table of Gather, the weight of Linear and the b of MatMul, ScaleRows and
// ScaleCols (merging), and Narrow of a result too large for one buffer
// (the last position of logits [B, T, V]). Each works part by part with
// the ordinary kernels; everything else refuses split tensors
// (splitRefused).

// asSplit returns x as a live split tensor of b, or nil when it is anything
// else (the operation's ordinary checks then apply).
func (b *Backend) asSplit(x backend.Tensor) *tensor {
	t, ok := x.(*tensor)
	if !ok || t == nil || t.b != b || t.split == nil || !t.live() {
		return nil
	}
	return t
}

// scratch collects the intermediate tensors of a split operation, freed
// when it ends.
type scratch struct {
	b  *Backend
	ts []backend.Tensor
}

func (s *scratch) keep(t backend.Tensor) backend.Tensor {
	if t != nil {
		s.ts = append(s.ts, t)
	}
	return t
}

func (s *scratch) free() {
	for _, t := range s.ts {
		s.b.Free(t)
	}
}

// narrowLast narrows an optional tensor along its last dimension.
func (b *Backend) narrowLast(s *scratch, t backend.Tensor, lo, n int) (backend.Tensor, error) {
	if t == nil {
		return nil, nil
	}
	y, err := b.Narrow(t, len(t.Shape())-1, lo, n)
	return s.keep(y), err
}

// gatherSplit is Gather from a table split by rows: one gather_part
// dispatch per part, each writing the output rows whose id it holds.
func (b *Backend) gatherSplit(tt *tensor, ids backend.Tensor) (backend.Tensor, error) {
	const op = "Gather"
	it, err := gatherIDs(b, op, tt, ids)
	if err != nil {
		return nil, err
	}
	v, d := tt.shape[0], tt.shape[1]
	out, err := b.alloc(op, backend.F32, it.n, d)
	if err != nil || out.n == 0 {
		return out, err
	}
	flag, bit, err := b.errorFlag(op, gatherRangeMsg)
	if err != nil {
		b.Free(out)
		return nil, err
	}
	for i, p := range tt.split.parts {
		lo, rows := tt.split.rows(i)
		gp := gatherParams{N: uint32(out.n), D: uint32(d), V: uint32(rows), DType: dtCode(tt.dtype), NIDs: uint32(v), Bit: bit, Lo: uint32(lo)}
		if err := b.dispatch("gather.wgsl", "gather_part", &gp, b.groups1D(out.n, gatherWG), out, p, it, flag); err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s table %v %s part %d ids %v: %w", op, tt.shape, tt.dtype, i, it.shape, err)
		}
	}
	return out, nil
}

// linearSplit runs Linear when w is split or the result is over the binding
// limit, and reports whether it did (false leaves the call to the ordinary
// path, which also reports malformed shapes). The result is split by rows
// when it is too large; each block of result rows is computed from the
// matching rows of x against every part of w: a weight [out, in] split by
// out rows gives column ranges of the result, a FanInFanOut weight
// [in, out] split by in rows gives partial sums over in.
func (b *Backend) linearSplit(x, w backend.Tensor, o backend.LinearOptions) (backend.Tensor, bool, error) {
	if x == nil || w == nil || len(w.Shape()) != 2 || len(x.Shape()) < 1 {
		return nil, false, nil
	}
	in, out := w.Shape()[1], w.Shape()[0]
	if o.FanInFanOut {
		in, out = out, in
	}
	if x.Shape()[len(x.Shape())-1] != in || in == 0 {
		return nil, false, nil
	}
	rows := x.Len() / in
	if b.asSplit(w) == nil && storageBytes(backend.F32, rows*out) <= b.maxBinding() {
		return nil, false, nil
	}
	const op = "Linear"
	xt, err := b.f32(op, x)
	if err != nil {
		return nil, true, err
	}
	y, err := b.allocSplit(op, backend.F32, append(slices.Clone(xt.shape[:len(xt.shape)-1]), out)...)
	if err != nil {
		return nil, true, err
	}
	sc := &scratch{b: b}
	defer sc.free()
	x2, err := b.View(xt, rows, in)
	if err != nil {
		b.Free(y)
		return nil, true, err
	}
	blocks := []rowSpan{{y, 0, rows}}
	if y.split == nil {
		yv, err := b.View(y, rows, out)
		if err != nil {
			b.Free(y)
			return nil, true, err
		}
		blocks[0].t = yv.(*tensor)
	} else {
		blocks = spans(y, 0, rows)
		for i := range blocks {
			blocks[i].row, _ = y.split.rows(i)
		}
	}
	for _, blk := range blocks {
		xr, ob := x2, o
		if blk.count != rows {
			if xr, err = b.rowSlice(sc, x2, blk.row, blk.count); err == nil && o.ScaleIndex != nil {
				ob.ScaleIndex, err = b.rowSlice(sc, o.ScaleIndex, blk.row, blk.count)
			}
		}
		if err == nil {
			err = b.linearInto(blk.t, xr, w, ob)
		}
		if err != nil {
			b.Free(y)
			return nil, true, fmt.Errorf("webgpu: Linear %v × %v %s: %w", xt.shape, w.Shape(), w.DType(), err)
		}
	}
	return y, true, nil
}

// rowSlice copies rows [lo, lo+n) of a plain tensor of 4-byte elements
// seen as [R, C] (F32 or I32) into a new [n, C] (or [n] for a vector).
func (b *Backend) rowSlice(sc *scratch, x backend.Tensor, lo, n int) (backend.Tensor, error) {
	t, err := b.tensorOf("Linear", x)
	if err != nil {
		return nil, err
	}
	if t.dtype.Size() != 4 {
		return nil, fmt.Errorf("rows of %s tensor %v: want F32 or I32", t.dtype, t.shape)
	}
	_, cols := rowGeometry(t.shape)
	shape := []int{n, cols}
	if len(t.shape) == 1 {
		cols, shape = 1, []int{n}
	}
	out, err := b.alloc("Linear", t.dtype, shape...)
	if err != nil {
		return nil, err
	}
	sc.keep(out)
	if err := b.dev.Copy(t.buf, uint64(lo*cols*4), out.buf, 0, uint64(n*cols*4)); err != nil {
		return nil, fmt.Errorf("copying rows [%d:%d]: %w", lo, lo+n, err)
	}
	return out, nil
}

// linearInto computes Linear(x, w, o) for x [r, in] into dst, a plain F32
// [r, out].
func (b *Backend) linearInto(dst *tensor, x, w backend.Tensor, o backend.LinearOptions) error {
	sc := &scratch{b: b}
	defer sc.free()
	wt := b.asSplit(w)
	if wt == nil {
		y, err := b.Linear(x, w, o)
		if err != nil {
			return err
		}
		sc.keep(y)
		return b.dev.Copy(y.(*tensor).buf, 0, dst.buf, 0, dst.bytes())
	}
	var acc backend.Tensor
	for i, p := range wt.split.parts {
		lo, n := wt.split.rows(i)
		oi, xi := o, x
		var err error
		if !o.FanInFanOut {
			// Rows of w are output features: this part gives columns [lo, lo+n).
			if oi.Bias, err = b.narrowLast(sc, o.Bias, lo, n); err == nil {
				oi.OutScale, err = b.narrowLast(sc, o.OutScale, lo, n)
			}
		} else {
			// Rows of w are input features: this part adds x[:, lo:lo+n]·w_part.
			if xi, err = b.narrowLast(sc, x, lo, n); err == nil {
				oi.InScale, err = b.narrowLast(sc, o.InScale, lo, n)
			}
			if i > 0 {
				oi.Bias = nil
			}
		}
		if err != nil {
			return fmt.Errorf("part %d: %w", i, err)
		}
		yi, err := b.Linear(xi, p, oi)
		if err != nil {
			return fmt.Errorf("part %d: %w", i, err)
		}
		if acc, err = b.combine("Linear", sc, !o.FanInFanOut, dst, lo, acc, yi); err != nil {
			return fmt.Errorf("part %d: %w", i, err)
		}
	}
	if acc != nil {
		return b.dev.Copy(acc.(*tensor).buf, 0, dst.buf, 0, dst.bytes())
	}
	return nil
}

// combine adds the result y of one part of a split weight into the
// running result: written into dst's last dimension from lo when columns
// is set (parts of output features), else summed into acc, which it
// returns (parts of the reduced dimension). y and the sums are freed with
// sc.
func (b *Backend) combine(op string, sc *scratch, columns bool, dst *tensor, lo int, acc, y backend.Tensor) (backend.Tensor, error) {
	sc.keep(y)
	switch {
	case columns:
		return acc, b.assign(op, dst, len(dst.shape)-1, lo, y.(*tensor))
	case acc == nil:
		return y, nil
	}
	sum, err := b.Add(acc, y)
	sc.keep(sum)
	return sum, err
}

// matmulSplit is MatMul with a 2-D b split by rows: b [K, N] split along K
// sums the products of a's matching K columns; with TransB, b [N, K] split
// along N gives column ranges of the result.
func (b *Backend) matmulSplit(x backend.Tensor, w *tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	const op = "MatMul"
	a, err := b.f32(op, x)
	if err != nil {
		return nil, err
	}
	if len(a.shape) < 2 || len(w.shape) != 2 || !w.dtype.IsFloat() {
		return nil, fmt.Errorf("webgpu: %s: a %v, b %v %s held in %d buffers: want a at least 2-D and b a 2-D float tensor",
			op, a.shape, w.shape, w.dtype, len(w.split.parts))
	}
	ra := len(a.shape)
	m, k, kdim := a.shape[ra-2], a.shape[ra-1], ra-1
	if o.TransA {
		m, k, kdim = k, m, ra-2
	}
	kb, n := w.shape[0], w.shape[1]
	if o.TransB {
		kb, n = n, kb
	}
	if kb != k {
		return nil, fmt.Errorf("webgpu: %s: a %v and b %v (transA %v, transB %v) do not multiply", op, a.shape, w.shape, o.TransA, o.TransB)
	}
	sc := &scratch{b: b}
	defer sc.free()
	var out *tensor
	if o.TransB {
		if out, err = b.alloc(op, backend.F32, append(slices.Clone(a.shape[:ra-2]), m, n)...); err != nil {
			return nil, err
		}
	}
	var acc backend.Tensor
	for i, p := range w.split.parts {
		lo, rows := w.split.rows(i)
		ai := backend.Tensor(a)
		if !o.TransB {
			if ai, err = b.Narrow(a, kdim, lo, rows); err != nil {
				return nil, fmt.Errorf("webgpu: %s part %d: %w", op, i, err)
			}
			sc.keep(ai)
		}
		yi, err := b.MatMul(ai, p, o)
		if err == nil {
			acc, err = b.combine(op, sc, o.TransB, out, lo, acc, yi)
		}
		if err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s %v × %v part %d: %w", op, a.shape, w.shape, i, err)
		}
	}
	if out != nil {
		return out, nil
	}
	sc.ts = slices.DeleteFunc(sc.ts, func(t backend.Tensor) bool { return t == acc })
	return acc, nil
}

// scaleSplit is ScaleRows/ScaleCols of a split w, part by part; the result
// is split in the same rows (parts are sized so that their F32 copies fit).
func (b *Backend) scaleSplit(op string, wt *tensor, v backend.Tensor, invert, cols bool) (backend.Tensor, error) {
	vt, err := scaleVector(b, op, wt, v, cols)
	if err != nil {
		return nil, err
	}
	sc := &scratch{b: b}
	defer sc.free()
	out := &split{starts: slices.Clone(wt.split.starts)}
	for i, p := range wt.split.parts {
		lo, n := wt.split.rows(i)
		vi := backend.Tensor(vt)
		if !cols {
			if vi, err = b.Narrow(vt, 0, lo, n); err != nil {
				out.free()
				return nil, err
			}
			sc.keep(vi)
		}
		y, err := b.scale(op, p, vi, invert, cols)
		if err != nil {
			out.free()
			return nil, fmt.Errorf("webgpu: %s %v part %d: %w", op, wt.shape, i, err)
		}
		out.parts = append(out.parts, y.(*tensor))
	}
	return &tensor{b: b, shape: slices.Clone(wt.shape), dtype: backend.F32, n: wt.n, split: out}, nil
}

// narrowSplit is Narrow of a split F32 tensor. Narrowing a leading
// dimension copies whole rows between buffers; narrowing the last one
// narrows each part. The result is split again only if it is still over
// the binding limit.
func (b *Backend) narrowSplit(t *tensor, dim, start, length int) (backend.Tensor, error) {
	const op = "Narrow"
	if t.dtype != backend.F32 {
		return nil, fmt.Errorf("webgpu: %s: tensor %v is %s, want F32", op, t.shape, t.dtype)
	}
	if dim < 0 || dim >= len(t.shape) || start < 0 || length < 0 || start+length > t.shape[dim] {
		return nil, fmt.Errorf("webgpu: %s: [%d:%d] along dim %d is outside shape %v", op, start, start+length, dim, t.shape)
	}
	shape := slices.Clone(t.shape)
	shape[dim] = length
	out, err := b.allocSplit(op, backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	last := len(t.shape) - 1
	if dim == last {
		for i, p := range t.split.parts {
			lo, n := t.split.rows(i)
			pi, err := b.Narrow(p, 1, start, length)
			if err == nil {
				err = b.copyRows(op, out, lo, pi.(*tensor), 0, n)
				b.Free(pi)
			}
			if err != nil {
				b.Free(out)
				return nil, fmt.Errorf("webgpu: %s %v dim %d part %d: %w", op, t.shape, dim, i, err)
			}
		}
		return out, nil
	}
	outer, _ := sliceGeometry(t.shape, dim)
	inner := 1 // rows per index of dim
	for _, d := range t.shape[dim+1 : last] {
		inner *= d
	}
	for o := 0; o < outer; o++ {
		if err := b.copyRows(op, out, o*length*inner, t, (o*t.shape[dim]+start)*inner, length*inner); err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s %v dim %d [%d:%d]: %w", op, t.shape, dim, start, start+length, err)
		}
	}
	return out, nil
}

// binarySplit is Add, Sub or Mul with a split a, part by part: b is split
// in the same rows, or a plain suffix of a whose elements repeat within
// every part (its length divides each part's first element).
func (b *Backend) binarySplit(op string, code uint32, x, y backend.Tensor) (backend.Tensor, error) {
	a, err := b.anyTensorOf(op, x)
	if err != nil {
		return nil, err
	}
	c, err := b.anyTensorOf(op, y)
	if err != nil {
		return nil, err
	}
	if a.split == nil || a.dtype != backend.F32 || c.dtype != backend.F32 {
		return nil, b.splitRefused(op, c)
	}
	if len(c.shape) > len(a.shape) || !slices.Equal(c.shape, a.shape[len(a.shape)-len(c.shape):]) || (c.n == 0 && a.n != 0) {
		return nil, fmt.Errorf("webgpu: %s: b %v is not a suffix of a %v", op, c.shape, a.shape)
	}
	_, cols := rowGeometry(a.shape)
	if c.split != nil && (c.n != a.n || !slices.Equal(c.split.starts, a.split.starts)) {
		return nil, fmt.Errorf("webgpu: %s: a %v and b %v are held in differently split buffers", op, a.shape, c.shape)
	}
	out, err := b.allocLike(op, a)
	if err != nil {
		return nil, err
	}
	for i, p := range a.split.parts {
		lo, _ := a.split.rows(i)
		cp := c
		if c.split != nil {
			cp = c.split.parts[i]
		} else if c.n > 0 && (lo*cols)%c.n != 0 {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s: b %v does not repeat whole within the buffers holding a %v", op, c.shape, a.shape)
		}
		entry, w := vecEntry("binary", p.n, cp.n)
		bp := &binaryParams{N: uint32(p.n / w), NB: uint32(max(cp.n/w, 1)), Op: code}
		if err := b.dispatch("elementwise.wgsl", entry, bp, b.groups1D(p.n/w, wg1D), out.split.parts[i], p, cp); err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s %v, %v part %d: %w", op, a.shape, c.shape, i, err)
		}
	}
	return out, nil
}

// matmulSplitRows is MatMul of a split a [M, K] (2-D, not transposed) by a
// 2-D b: each part of a's rows gives the same rows of the result, which is
// split again when it is over the binding limit. b may itself be split.
func (b *Backend) matmulSplitRows(a *tensor, y backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	const op = "MatMul"
	if a.dtype != backend.F32 || len(a.shape) != 2 || o.TransA || y == nil || len(y.Shape()) != 2 {
		return nil, b.splitRefused(op+" (a 2-D a read untransposed against a 2-D b)", a)
	}
	n := y.Shape()[1]
	if o.TransB {
		n = y.Shape()[0]
	}
	out, err := b.allocSplit(op, backend.F32, a.shape[0], n)
	if err != nil {
		return nil, err
	}
	for i, p := range a.split.parts {
		lo, rows := a.split.rows(i)
		yi, err := b.MatMul(p, y, o)
		if err == nil {
			err = b.copyRows(op, out, lo, yi.(*tensor), 0, rows)
			b.Free(yi)
		}
		if err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s %v × %v part %d: %w", op, a.shape, y.Shape(), i, err)
		}
	}
	return out, nil
}
