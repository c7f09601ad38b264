//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// bindingLimitFromEnv reads BindingLimitEnv; 0 means unset.
func bindingLimitFromEnv() (uint64, error) {
	v := strings.TrimSpace(os.Getenv(BindingLimitEnv))
	if v == "" {
		return 0, nil
	}
	mult := uint64(1)
	switch {
	case strings.HasSuffix(v, "MiB"):
		v, mult = strings.TrimSuffix(v, "MiB"), 1<<20
	case strings.HasSuffix(v, "KiB"):
		v, mult = strings.TrimSuffix(v, "KiB"), 1<<10
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil || n == 0 || n*mult < 256 {
		return 0, fmt.Errorf("webgpu: %s=%q: want a byte count of at least 256 (KiB and MiB suffixes accepted)", BindingLimitEnv, os.Getenv(BindingLimitEnv))
	}
	return n * mult, nil
}

// maxBinding is the largest tensor storage one buffer binding holds: the
// smaller of the adapter's maxStorageBufferBindingSize and maxBufferSize,
// lowered by BindingLimitEnv.
func (b *Backend) maxBinding() uint64 {
	lim := b.dev.Limits()
	l := min(lim.MaxStorageBufferBindingSize, lim.MaxBufferSize)
	if b.bindLimit > 0 {
		l = min(l, b.bindLimit)
	}
	return l
}

// split is the storage of a tensor larger than one binding. The tensor is
// seen as rows: [R, C] with C its last dimension and R the product of the
// others (an embedding or a weight [out, in] is split along dim 0; logits
// [B, T, V] along B·T). Each part is a plain tensor [rows, C] of its own
// buffer holding consecutive rows; starts[i] is the first row of part i
// and starts[len(parts)] is R. Part boundaries fall on whole u32 words, and
// the parts are sized as if every float element took 4 bytes, so widening
// or scaling an F16/BF16 part to F32 keeps the same rows per part. A
// quantized (Q8_0, NF4) tensor's parts are standalone quantized tensors
// of its rows (quant.SliceRows), sized so their dequantised F32 copies fit.
type split struct {
	parts  []*tensor
	starts []int
}

// rows returns the first row and the row count of part i.
func (s *split) rows(i int) (lo, n int) { return s.starts[i], s.starts[i+1] - s.starts[i] }

// free releases every part (views of parts are no-ops).
func (s *split) free() {
	for _, p := range s.parts {
		p.b.Free(p)
	}
}

// rowGeometry returns R and C of shape seen as [R, C].
func rowGeometry(shape []int) (rows, cols int) {
	rows, cols = 1, 1
	if len(shape) > 0 {
		cols = shape[len(shape)-1]
		for _, d := range shape[:len(shape)-1] {
			rows *= d
		}
	}
	return rows, cols
}

// splitRefused is the error of an operation given a split tensor it cannot
// take.
func (b *Backend) splitRefused(op string, t *tensor) error {
	return fmt.Errorf("webgpu: %s: %s tensor %v needs %d bytes, over the device's storage binding limit of %d bytes, "+
		"so it is held in %d buffers, which %s does not take; for activations such as logits [tokens, vocab], lower --batch or --seq",
		op, t.dtype, t.shape, t.bytes(), b.maxBinding(), len(t.split.parts), op)
}

// allocSplit is alloc for operations that accept split results: a tensor
// over the binding limit is allocated as a split of row parts.
func (b *Backend) allocSplit(op string, dtype backend.DType, shape ...int) (*tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > (1<<62)/d) {
			return b.alloc(op, dtype, shape...) // reports the bad shape
		}
		n *= d
	}
	limit := b.maxBinding()
	if storageBytes(dtype, n) <= limit {
		return b.alloc(op, dtype, shape...)
	}
	rows, cols := rowGeometry(shape)
	per, err := rowsPerPart(dtype, rows, cols, limit)
	if err != nil {
		return nil, fmt.Errorf("webgpu: %s: %s tensor %v: %w", op, dtype, shape, err)
	}
	s := &split{}
	for lo := 0; lo < rows; lo += per {
		p, err := b.alloc(op, dtype, min(per, rows-lo), cols)
		if err != nil {
			s.free()
			return nil, err
		}
		s.parts = append(s.parts, p)
		s.starts = append(s.starts, lo)
	}
	s.starts = append(s.starts, rows)
	return &tensor{b: b, shape: slices.Clone(shape), dtype: dtype, n: n, split: s}, nil
}

// rowsPerPart returns how many rows of cols elements each part of a split
// holds: as many as fit the limit at 4 bytes an element (so F32 copies of
// F16/BF16 parts, and the dequantised copies of quantized ones, fit too),
// in a multiple of the dtype's row granularity (partGranularity), then
// evened out over the parts.
func rowsPerPart(dtype backend.DType, rows, cols int, limit uint64) (int, error) {
	if rows < 2 {
		return 0, fmt.Errorf("one row of %d elements is over the storage binding limit of %d bytes", cols, limit)
	}
	gran := partGranularity(dtype, cols)
	rowBytes := uint64(cols) * uint64(max(dtype.Size(), 4))
	per := int((limit&^15)/rowBytes) / gran * gran
	switch {
	case per == 0 && gran > 1:
		return 0, fmt.Errorf("a part must hold a multiple of %d rows of %d elements (%d bytes as F32), over the storage binding limit of %d bytes",
			gran, cols, uint64(gran)*rowBytes, limit)
	case per == 0:
		return 0, fmt.Errorf("a row of %d elements (%d bytes as F32) is over the storage binding limit of %d bytes", cols, rowBytes, limit)
	}
	parts := (rows + per - 1) / per
	per = (rows + parts - 1) / parts
	// Rounding up keeps per at most the first value, itself a multiple.
	return (per + gran - 1) / gran * gran, nil
}

// partGranularity is the row count a part of a split [rows, cols] tensor
// of dtype holds a multiple of (but for the last part): 2 for 16-bit rows
// of odd length, so that parts start on a whole u32 word; for quantized
// dtypes quant.RowGranularity, so that each part is a standalone quantized
// matrix (whole NF4 double-quantization groups); else 1.
func partGranularity(dtype backend.DType, cols int) int {
	if f := dtype.QuantFormat(); f != quant.None {
		return max(quant.RowGranularity(f, cols), 1)
	}
	if dtype.Size() == 2 && cols%2 == 1 {
		return 2
	}
	return 1
}

// rawBytes is the bytes n elements of dtype take in the host layout
// FromBytes receives and downloads return, for the float and integer
// dtypes (quantized tensors are split by fromQuantSplit and downloaded
// dequantised, never through uploadSplit or downloadSplit).
func rawBytes(dtype backend.DType, n int) int { return n * dtype.Size() }

// uploadSplit is upload for a tensor over the binding limit.
func (b *Backend) uploadSplit(op string, dtype backend.DType, raw []byte, n int, shape []int) (backend.Tensor, error) {
	t, err := b.allocSplit(op, dtype, shape...)
	if err != nil {
		return nil, err
	}
	if t.n != n {
		b.Free(t)
		return nil, fmt.Errorf("webgpu: %s: %d elements for shape %v (want %d)", op, n, shape, t.n)
	}
	_, cols := rowGeometry(shape)
	for i, p := range t.split.parts {
		lo, rows := t.split.rows(i)
		chunk := raw[rawBytes(dtype, lo*cols):rawBytes(dtype, (lo+rows)*cols)]
		if pad := int(p.bytes()) - len(chunk); pad > 0 {
			chunk = append(chunk[:len(chunk):len(chunk)], make([]byte, pad)...)
		}
		if err := b.dev.Write(p.buf, 0, chunk); err != nil {
			b.Free(t)
			return nil, fmt.Errorf("webgpu: %s %s %v part %d: %w", op, dtype, shape, i, err)
		}
	}
	return t, nil
}

// downloadSplit reads every part of t back, in row order.
func (b *Backend) downloadSplit(op string, t *tensor) ([]byte, error) {
	out := make([]byte, 0, t.bytes())
	for i, p := range t.split.parts {
		raw, err := b.download(op, p)
		if err != nil {
			return nil, fmt.Errorf("%w (part %d of %d)", err, i+1, len(t.split.parts))
		}
		out = append(out, raw[:rawBytes(p.dtype, p.n)]...)
	}
	return out, nil
}

// viewSplit is View of a split tensor: each part is viewed with the new
// last dimension, which must divide every part's elements.
func (b *Backend) viewSplit(op string, t, owner *tensor, shape []int) (backend.Tensor, error) {
	_, cols := rowGeometry(shape)
	s := &split{starts: []int{0}}
	for _, p := range t.split.parts {
		if cols == 0 || p.n%cols != 0 {
			return nil, fmt.Errorf("webgpu: %s: %s tensor %v is held in %d buffers of whole rows; shape %v would cut a row of %d across them",
				op, t.dtype, t.shape, len(t.split.parts), shape, cols)
		}
		pv, err := b.View(p, p.n/cols, cols)
		if err != nil {
			return nil, err
		}
		s.parts = append(s.parts, pv.(*tensor))
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+p.n/cols)
	}
	return &tensor{b: b, shape: slices.Clone(shape), dtype: t.dtype, n: t.n, owner: owner, split: s}, nil
}

// widenSplit is widen of a split tensor, part by part.
func (b *Backend) widenSplit(op string, t *tensor) (*tensor, error) {
	dt := backend.F32
	if t.dtype == backend.I32 {
		dt = backend.I32
	}
	out := &split{starts: slices.Clone(t.split.starts)}
	for _, p := range t.split.parts {
		w, err := b.widen(op, p)
		if err != nil {
			out.free()
			return nil, err
		}
		out.parts = append(out.parts, w)
	}
	return &tensor{b: b, shape: slices.Clone(t.shape), dtype: dt, n: t.n, split: out}, nil
}

// rowSpan is a run of rows of a tensor in one buffer.
type rowSpan struct {
	t     *tensor // a plain tensor (a part, or the whole)
	row   int     // first row within t
	count int
}

// spans returns the runs of buffers holding rows [lo, lo+n) of t.
func spans(t *tensor, lo, n int) []rowSpan {
	if t.split == nil {
		return []rowSpan{{t, lo, n}}
	}
	var out []rowSpan
	for i, p := range t.split.parts {
		plo, pn := t.split.rows(i)
		a, z := max(lo, plo), min(lo+n, plo+pn)
		if a < z {
			out = append(out, rowSpan{p, a - plo, z - a})
		}
	}
	return out
}

// copyRows queues the copy of rows [srcRow, srcRow+n) of src into dst from
// dstRow on, F32 tensors of one row length, either or both split.
func (b *Backend) copyRows(op string, dst *tensor, dstRow int, src *tensor, srcRow, n int) error {
	_, cols := rowGeometry(src.shape)
	rowBytes := uint64(cols) * 4
	done := 0
	for _, s := range spans(src, srcRow, n) {
		sr := s.row
		for _, d := range spans(dst, dstRow+done, s.count) {
			if err := b.dev.Copy(s.t.buf, uint64(sr)*rowBytes, d.t.buf, uint64(d.row)*rowBytes, uint64(d.count)*rowBytes); err != nil {
				return fmt.Errorf("webgpu: %s: copying %d rows: %w", op, d.count, err)
			}
			sr += d.count
		}
		done += s.count
	}
	return nil
}

// allocLike allocates an F32 tensor of t's shape, split in t's rows when t
// is split.
func (b *Backend) allocLike(op string, t *tensor) (*tensor, error) {
	if t.split == nil {
		return b.alloc(op, backend.F32, t.shape...)
	}
	_, cols := rowGeometry(t.shape)
	s := &split{starts: slices.Clone(t.split.starts)}
	for i := range t.split.parts {
		_, n := t.split.rows(i)
		p, err := b.alloc(op, backend.F32, n, cols)
		if err != nil {
			s.free()
			return nil, err
		}
		s.parts = append(s.parts, p)
	}
	return &tensor{b: b, shape: slices.Clone(t.shape), dtype: backend.F32, n: t.n, split: s}, nil
}
