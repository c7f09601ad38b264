//go:build cgo && !nowebgpu

package webgpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// Quantized weights (backend.Q8_0, backend.NF4) live on the device in
// package quant's byte layout, zero-padded to a whole u32 word, and are
// dequantised by the matmul kernels as they load each weight (load_bq in
// matmul.wgsl, helpers in common.wgsl). An NF4 tensor's buffer also holds
// the NF4 and Dynamic8 tables after its storage bytes (nf4TableWords
// float32), uploaded from package quant with the tensor, so the kernels
// need no extra binding and the tables have one source.

// nf4TableWords is the number of float32 table entries after an NF4
// tensor's storage: quant.NF4Table then quant.Dynamic8Table.
const nf4TableWords = 16 + 256

// quantDeviceBytes is the device size of an n-element quantized tensor:
// quant's storage bytes (which depend on R·C only, so [1, n] stands for any
// [R, C]), padded to a word, plus NF4's tables. n is a whole number of
// blocks for every tensor FromBytes accepts.
func quantDeviceBytes(f quant.Format, n int) uint64 {
	size, err := quant.StorageBytes(f, 1, n)
	if err != nil {
		size = n // unreachable for validated tensors; any size is safe
	}
	words := uint64(size+3) / 4
	if f == quant.NF4 {
		words += nf4TableWords
	}
	return 4 * words
}

// fromQuantBytes uploads a [R, C] Q8_0 or NF4 tensor from its storage
// bytes in package quant's layout, appending the NF4 tables.
func (b *Backend) fromQuantBytes(dtype backend.DType, data []byte, shape []int) (backend.Tensor, error) {
	if len(shape) != 2 {
		return nil, fmt.Errorf("webgpu: FromBytes: %s tensor of shape %v: want 2-D [R, C]", dtype, shape)
	}
	f := dtype.QuantFormat()
	l, err := quant.NewLayout(f, shape[0], shape[1])
	if err != nil {
		return nil, fmt.Errorf("webgpu: FromBytes: %w", err)
	}
	if len(data) != l.Total {
		return nil, fmt.Errorf("webgpu: FromBytes: %d bytes for %s %v, want %d", len(data), dtype, shape, l.Total)
	}
	if quantDeviceBytes(f, l.Rows*l.Cols) > b.maxBinding() {
		return b.fromQuantSplit(dtype, data, l)
	}
	return b.uploadQuant("FromBytes", dtype, data, l)
}

// uploadQuant uploads the storage bytes data of a quantized matrix of
// layout l that fits one binding, appending the NF4 tables.
func (b *Backend) uploadQuant(op string, dtype backend.DType, data []byte, l quant.Layout) (backend.Tensor, error) {
	raw := make([]byte, quantDeviceBytes(l.Format, l.Rows*l.Cols))
	copy(raw, data)
	if l.Format == quant.NF4 {
		// The tables start right after the storage, which for NF4 is a
		// whole number of words (nf4_table_word in common.wgsl).
		tables := raw[l.Total:]
		nf4, d8 := quant.NF4Table(), quant.Dynamic8Table()
		for i, v := range append(nf4[:], d8[:]...) {
			binary.LittleEndian.PutUint32(tables[4*i:], math.Float32bits(v))
		}
	}
	return b.upload(op, dtype, raw, l.Rows*l.Cols, []int{l.Rows, l.Cols})
}

// fromQuantSplit uploads a quantized matrix over the binding limit as a
// split: each part is a standalone quantized matrix of consecutive rows
// (quant.SliceRows; NF4 parts hold whole double-quantization groups and
// the whole's offset), so every operation runs on the parts with the
// ordinary kernels and dequantises them exactly as the rows of the whole.
func (b *Backend) fromQuantSplit(dtype backend.DType, data []byte, l quant.Layout) (backend.Tensor, error) {
	const op = "FromBytes"
	limit := b.maxBinding()
	per, err := rowsPerPart(dtype, l.Rows, l.Cols, limit)
	if err != nil {
		return nil, fmt.Errorf("webgpu: %s: %s tensor [%d %d] needs %d bytes, over the device's storage binding limit of %d bytes, and cannot be split by rows: %w",
			op, dtype, l.Rows, l.Cols, quantDeviceBytes(l.Format, l.Rows*l.Cols), limit, err)
	}
	s := &split{}
	for lo := 0; lo < l.Rows; lo += per {
		hi := min(lo+per, l.Rows)
		var p backend.Tensor
		part, err := quant.SliceRows(l.Format, data, l.Rows, l.Cols, lo, hi)
		if err == nil {
			var pl quant.Layout
			if pl, err = quant.NewLayout(l.Format, hi-lo, l.Cols); err == nil {
				p, err = b.uploadQuant(op, dtype, part, pl)
			}
		}
		if err != nil {
			s.free()
			return nil, fmt.Errorf("webgpu: %s: %s tensor [%d %d] rows [%d:%d]: %w", op, dtype, l.Rows, l.Cols, lo, hi, err)
		}
		s.parts = append(s.parts, p.(*tensor))
		s.starts = append(s.starts, lo)
	}
	s.starts = append(s.starts, l.Rows)
	return &tensor{b: b, shape: []int{l.Rows, l.Cols}, dtype: dtype, n: l.Rows * l.Cols, split: s}, nil
}

// dequantize returns a Q8_0 or NF4 tensor dequantised to F32, by the loader
// the matmul kernels use (matmul_dequant): Copy, ToFloat32 and the scale
// ops. A result over the storage binding limit (a large weight's F32 copy
// is four to eight times its size) is split by rows like any other; a
// split t is dequantised part by part into a split of the same rows.
func (b *Backend) dequantize(op string, t *tensor) (*tensor, error) {
	if t.split != nil {
		return b.widenSplit(op, t)
	}
	out, err := b.allocSplit(op, backend.F32, t.shape...)
	if err != nil {
		return nil, err
	}
	if out.split == nil {
		err = b.dequantInto(out, t, 0)
	} else {
		_, cols := rowGeometry(t.shape)
		for i, p := range out.split.parts {
			lo, _ := out.split.rows(i)
			if err = b.dequantInto(p, t, lo*cols); err != nil {
				break
			}
		}
	}
	if err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s: dequantising %s %v: %w", op, t.dtype, t.shape, err)
	}
	return out, nil
}

// dequantInto queues writing the out.n elements of the quantized t from
// flat index first, dequantised, into the F32 tensor out.
func (b *Backend) dequantInto(out, t *tensor, first int) error {
	if out.n == 0 {
		return nil
	}
	a, err := b.placeholder(0)
	if err != nil {
		return err
	}
	// load_bq reads a b of n·k elements; sb_b stays 0 (its opaque zero).
	p := matmulParams{M: uint32(out.n), SAM: uint32(first), N: 1, K: uint32(t.n), BDT: dtCode(t.dtype)}
	return b.dispatch("matmul.wgsl", "matmul_dequant", &p, b.groups1D(out.n, wg1D), out, a, t)
}

// scaleQuantized is ScaleRows/ScaleCols of a quantized weight: dequantised
// (split when large), then scaled as F32.
func (b *Backend) scaleQuantized(op string, wt, vt *tensor, invert, cols bool) (backend.Tensor, error) {
	d, err := b.dequantize(op, wt)
	if err != nil {
		return nil, err
	}
	defer b.Free(d)
	return b.scale(op, d, vt, invert, cols)
}

// dequantToFloat32 downloads a quantized tensor's dequantised values.
func (b *Backend) dequantToFloat32(t *tensor) ([]float32, error) {
	d, err := b.dequantize("ToFloat32", t)
	if err != nil {
		return nil, err
	}
	defer b.Free(d)
	return b.ToFloat32(d)
}

// checkQuantWeight refuses the layouts of a quantized weight the kernels
// do not read: it must be 2-D (shared by every batch), and a Linear weight
// [out, in], not fan_in_fan_out. MatMul may read it either way: transposed
// for the forward a·Wᵀ, as stored for a Linear's backward dz·W; the loader
// addresses elements by their flat index, which is the same in both.
func checkQuantWeight(op string, w *tensor, fanInFanOut bool) error {
	if !w.dtype.IsQuantized() {
		return nil
	}
	if len(w.shape) != 2 || fanInFanOut {
		return fmt.Errorf("webgpu: %s: %s weight %v: a quantized weight must be 2-D [out, in], shared by the batch, and not fan_in_fan_out",
			op, w.dtype, w.shape)
	}
	return nil
}
