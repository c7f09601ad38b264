//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

type colParams struct{ Rows, Cols, Chunk uint32 }

type blockParams struct{ N, Square uint32 }

type countParams struct{ N uint32 }

// Reduction tiling, matching reduce.wgsl.
const (
	colChunk   = 64      // most rows the last pass of SumRows sums per column
	minChunk   = 8       // fewest rows one thread sums in an earlier pass
	colThreads = 1 << 16 // about how many threads an earlier pass of SumRows runs
	blockSpan  = 256 * 8 // elements one workgroup of block_sums reduces
)

// SumRows sums x [..., C] over every leading dimension, giving [C]. While
// more than 64 rows are left, a pass sums chunks of consecutive rows per
// column (chunks sized so about 64K threads share the work); the last pass
// adds the remaining rows in order. The order is fixed by the shape, so
// results are deterministic.
func (b *Backend) SumRows(x backend.Tensor) (backend.Tensor, error) {
	t, err := b.f32("SumRows", x)
	if err != nil {
		return nil, err
	}
	if len(t.shape) == 0 {
		return nil, fmt.Errorf("webgpu: SumRows: x is a scalar, want at least one dimension")
	}
	cols := t.shape[len(t.shape)-1]
	rows := 0
	if cols > 0 {
		rows = t.n / cols
	}
	cur := t
	for rows > colChunk {
		chunk := sumChunk(rows, cols)
		nch := (rows + chunk - 1) / chunk
		part, err := b.colSums(cur, rows, cols, chunk, []int{nch, cols})
		if cur != t {
			b.Free(cur)
		}
		if err != nil {
			return nil, err
		}
		cur, rows = part, nch
	}
	if cur != t {
		defer b.Free(cur)
	}
	return b.colSums(cur, rows, cols, max(rows, 1), []int{cols})
}

// MulSumRows returns Σrows a ⊙ b as [C]: SumRows whose first pass reads
// both tensors and multiplies (col_mul_sums), so the product is never
// written; the later passes, and the order of the sums, are SumRows's.
func (b *Backend) MulSumRows(x, y backend.Tensor) (backend.Tensor, error) {
	const op = "MulSumRows"
	t, err := b.f32(op, x)
	if err != nil {
		return nil, err
	}
	u, err := b.f32(op, y)
	if err != nil {
		return nil, err
	}
	if len(t.shape) == 0 || u.n != t.n {
		return nil, fmt.Errorf("webgpu: %s: a %v and b %v: want one shape with at least one dimension", op, t.shape, u.shape)
	}
	cols := t.shape[len(t.shape)-1]
	rows := 0
	if cols > 0 {
		rows = t.n / cols
	}
	chunk, shape := max(rows, 1), []int{cols}
	if rows > colChunk {
		chunk = sumChunk(rows, cols)
		shape = []int{(rows + chunk - 1) / chunk, cols}
	}
	if rows == 0 {
		return b.colSums(t, 0, cols, 1, []int{cols})
	}
	part, err := b.alloc(op, backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	entry, w := vecEntry("col_mul_sums", cols)
	p := &colParams{Rows: uint32(rows), Cols: uint32(cols / w), Chunk: uint32(chunk)}
	if err := b.dispatch("reduce.wgsl", entry, p, b.groups1D(part.n/w, wg1D), part, t, u); err != nil {
		b.Free(part)
		return nil, fmt.Errorf("webgpu: %s %v: %w", op, t.shape, err)
	}
	if len(shape) == 1 {
		return part, nil
	}
	defer b.Free(part)
	return b.SumRows(part)
}

// sumChunk returns the rows one thread of an early SumRows pass sums: as
// few as keep about colThreads threads busy, between minChunk and colChunk.
func sumChunk(rows, cols int) int {
	_, w := vecEntry("", cols)
	return min(colChunk, max(minChunk, rows*(cols/w)/colThreads))
}

func (b *Backend) colSums(x *tensor, rows, cols, chunk int, shape []int) (*tensor, error) {
	out, err := b.alloc("SumRows", backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	if rows == 0 {
		if err := b.dev.Clear(out.buf, 0, (out.bytes()+15)&^15); err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: SumRows: %w", err)
		}
		return out, nil
	}
	entry, w := vecEntry("col_sums", cols)
	p := &colParams{Rows: uint32(rows), Cols: uint32(cols / w), Chunk: uint32(chunk)}
	if err := b.dispatch("reduce.wgsl", entry, p, b.groups1D(out.n/w, wg1D), out, x); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: SumRows %v: %w", x.shape, err)
	}
	return out, nil
}

// SumSquares returns Σx² as a [1] tensor: blocks of 2048 elements are
// reduced in workgroup memory, then the block sums likewise, until one is
// left.
func (b *Backend) SumSquares(x backend.Tensor) (backend.Tensor, error) {
	t, err := b.f32("SumSquares", x)
	if err != nil {
		return nil, err
	}
	if t.n == 0 {
		return b.zeros("SumSquares", backend.F32, 1)
	}
	cur, square := t, uint32(1)
	for {
		blocks := (cur.n + blockSpan - 1) / blockSpan
		out, err := b.alloc("SumSquares", backend.F32, blocks)
		if err == nil {
			err = b.dispatch("reduce.wgsl", "block_sums", &blockParams{N: uint32(cur.n), Square: square},
				b.groups1D(blocks*wg1D, wg1D), out, cur)
		}
		if cur != t {
			b.Free(cur)
		}
		if err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: SumSquares %v: %w", t.shape, err)
		}
		if blocks == 1 {
			return out, nil
		}
		cur, square = out, 0
	}
}

// AllFinite reports whether every element of x is finite. It reads back one
// word, so it waits for the queued work.
func (b *Backend) AllFinite(x backend.Tensor) (bool, error) {
	t, err := b.f32("AllFinite", x)
	if err != nil {
		return false, err
	}
	if t.n == 0 {
		return true, nil
	}
	flag, err := b.zeros("AllFinite", backend.I32, 1)
	if err != nil {
		return false, err
	}
	defer b.Free(flag)
	if err := b.dispatch("reduce.wgsl", "nonfinite", &countParams{N: uint32(t.n)}, b.groups1D(t.n, wg1D), flag, t); err != nil {
		return false, fmt.Errorf("webgpu: AllFinite %v: %w", t.shape, err)
	}
	got, err := b.ToInt32(flag)
	if err != nil {
		return false, err
	}
	return got[0] == 0, nil
}
