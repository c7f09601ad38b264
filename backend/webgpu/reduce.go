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
	colChunk  = 64      // rows summed by one thread in the first pass of SumRows
	blockSpan = 256 * 8 // elements one workgroup of block_sums reduces
)

// SumRows sums x [..., C] over every leading dimension, giving [C]. Rows are
// summed in chunks of 64, then the chunk sums are added in order.
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
	if rows <= colChunk {
		return b.colSums(t, rows, cols, max(rows, 1), []int{cols})
	}
	nch := (rows + colChunk - 1) / colChunk
	part, err := b.colSums(t, rows, cols, colChunk, []int{nch, cols})
	if err != nil {
		return nil, err
	}
	defer b.Free(part)
	return b.colSums(part, nch, cols, nch, []int{cols})
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
	p := &colParams{Rows: uint32(rows), Cols: uint32(cols), Chunk: uint32(chunk)}
	if err := b.dispatch("reduce.wgsl", "col_sums", p, b.groups1D(out.n, wg1D), out, x); err != nil {
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
