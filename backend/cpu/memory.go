package cpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// Zeros allocates an F32 tensor of zeros.
func (b *Backend) Zeros(shape ...int) (backend.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("zeros: %w", errClosed)
	}
	return b.newF32(shape...), nil
}

// FromFloat32 copies data into a new F32 tensor.
func (b *Backend) FromFloat32(data []float32, shape ...int) (backend.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("from_float32: %w", errClosed)
	}
	return b.wrapF32(append([]float32(nil), data...), shape...), nil
}

// FromInt32 copies data into a new I32 tensor.
func (b *Backend) FromInt32(data []int32, shape ...int) (backend.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("from_int32: %w", errClosed)
	}
	return b.track(&tensor{owner: b, shape: append([]int(nil), shape...), dtype: backend.I32, i: append([]int32(nil), data...)}), nil
}

// FromBytes decodes little-endian storage; F16 and BF16 stay 16-bit, Q8_0
// and NF4 stay as their storage bytes (a copy of data).
func (b *Backend) FromBytes(dtype backend.DType, data []byte, shape ...int) (backend.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("from_bytes: %w", errClosed)
	}
	n := numel(shape)
	t := &tensor{owner: b, shape: append([]int(nil), shape...), dtype: dtype}
	if dtype.IsQuantized() {
		if len(shape) != 2 {
			return nil, fmt.Errorf("from_bytes: %v tensor %v: want 2 dimensions", dtype, shape)
		}
		m, err := quant.NewMatrix(dtype.QuantFormat(), append([]byte(nil), data...), shape[0], shape[1])
		if err != nil {
			return nil, fmt.Errorf("from_bytes: %w", err)
		}
		t.q = &m
		return b.track(t), nil
	}
	if len(data) != n*dtype.Size() {
		return nil, fmt.Errorf("from_bytes: %d bytes for %v %v: want %d", len(data), dtype, shape, n*dtype.Size())
	}
	switch dtype {
	case backend.F32:
		t.f = make([]float32, n)
		for k := range t.f {
			t.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*k:]))
		}
	case backend.I32:
		t.i = make([]int32, n)
		for k := range t.i {
			t.i[k] = int32(binary.LittleEndian.Uint32(data[4*k:]))
		}
	case backend.F16, backend.BF16:
		t.h = make([]uint16, n)
		for k := range t.h {
			t.h[k] = binary.LittleEndian.Uint16(data[2*k:])
		}
	default:
		return nil, fmt.Errorf("from_bytes: unknown dtype %v", dtype)
	}
	return b.track(t), nil
}

// ToFloat32 returns a copy of a float tensor's values, widened to float32.
func (b *Backend) ToFloat32(t backend.Tensor) ([]float32, error) {
	x, err := b.tensorOf("to_float32", "t", t)
	if err != nil {
		return nil, err
	}
	if !x.dtype.IsFloat() {
		return nil, fmt.Errorf("to_float32: t %v has dtype %v", x.shape, x.dtype)
	}
	if x.dtype == backend.F32 {
		return append([]float32(nil), x.f...), nil
	}
	return x.floats(), nil
}

// ToInt32 returns a copy of an I32 tensor's values.
func (b *Backend) ToInt32(t backend.Tensor) ([]int32, error) {
	x, err := b.tensorOf("to_int32", "t", t)
	if err != nil {
		return nil, err
	}
	if x.dtype != backend.I32 {
		return nil, fmt.Errorf("to_int32: t %v has dtype %v, want I32", x.shape, x.dtype)
	}
	return append([]int32(nil), x.i...), nil
}

// Free drops an owner's storage so later use is an error; views, foreign
// tensors and tensors already freed are ignored. Large F32 storage goes
// back to the backend's spares for the next matrix product of that size
// (views of t are already unusable: tensorOf refuses them once t is freed).
func (b *Backend) Free(t backend.Tensor) {
	x, ok := t.(*tensor)
	if !ok || x == nil || x.owner != b || x.base != nil {
		return
	}
	if !x.freed {
		b.spares.put(x.f)
	}
	x.freed = true
	b.live.Add(-x.storageBytes())
	x.f, x.i, x.h, x.q = nil, nil, nil, nil
}

// View shares t's storage under another shape.
func (b *Backend) View(t backend.Tensor, shape ...int) (backend.Tensor, error) {
	x, err := b.tensorOf("view", "t", t)
	if err != nil {
		return nil, err
	}
	if numel(shape) != len(x.f)+len(x.i)+len(x.h) {
		return nil, fmt.Errorf("view: t %v cannot be viewed as %v", x.shape, shape)
	}
	base := x
	if x.base != nil {
		base = x.base
	}
	return &tensor{owner: b, shape: append([]int(nil), shape...), dtype: x.dtype, f: x.f, i: x.i, h: x.h, base: base}, nil
}

// Copy returns a new F32 tensor with t's values.
func (b *Backend) Copy(t backend.Tensor) (backend.Tensor, error) {
	x, err := b.tensorOf("copy", "t", t)
	if err != nil {
		return nil, err
	}
	if x.dtype == backend.I32 {
		return nil, fmt.Errorf("copy: t %v has dtype I32, want a float dtype", x.shape)
	}
	if x.dtype == backend.F32 {
		return b.wrapF32(append([]float32(nil), x.f...), x.shape...), nil
	}
	return b.wrapF32(x.floats(), x.shape...), nil
}
