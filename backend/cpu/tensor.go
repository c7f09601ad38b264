package cpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// tensor is a CPU tensor: exactly one of f, i, h and q holds the storage,
// according to dtype. F16 and BF16 stay as raw bits in h, as loaded, and are
// widened by the operations that read them; Q8_0 and NF4 stay as their
// storage bytes in q and are dequantized by the operations that read them.
type tensor struct {
	owner *Backend
	shape []int
	dtype backend.DType
	f     []float32     // F32
	i     []int32       // I32
	h     []uint16      // F16 or BF16 bits
	q     *quant.Matrix // Q8_0 or NF4 storage
	// base is the tensor a view shares storage with; nil for owners.
	base  *tensor
	freed bool
}

// Shape returns the dimensions.
func (t *tensor) Shape() []int { return t.shape }

// DType returns the storage type.
func (t *tensor) DType() backend.DType { return t.dtype }

// Len returns the element count.
func (t *tensor) Len() int { return numel(t.shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// tensorOf checks that t is a live tensor of this backend.
func (b *Backend) tensorOf(op, name string, t backend.Tensor) (*tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("%s: %w", op, errClosed)
	}
	ct, ok := t.(*tensor)
	if !ok || ct == nil {
		return nil, fmt.Errorf("%s: %s is a %T, not a tensor of the cpu backend", op, name, t)
	}
	if ct.owner != b {
		return nil, fmt.Errorf("%s: %s %v belongs to another cpu backend", op, name, ct.shape)
	}
	if ct.freed || (ct.base != nil && ct.base.freed) {
		return nil, fmt.Errorf("%s: %s %v was freed", op, name, ct.shape)
	}
	return ct, nil
}

// optTensorOf is tensorOf for optional arguments: nil gives nil.
func (b *Backend) optTensorOf(op, name string, t backend.Tensor) (*tensor, error) {
	if ct, ok := t.(*tensor); t == nil || (ok && ct == nil) {
		return nil, nil
	}
	return b.tensorOf(op, name, t)
}

// newF32 allocates a zeroed F32 tensor.
func (b *Backend) newF32(shape ...int) *tensor {
	return b.track(&tensor{owner: b, shape: append([]int(nil), shape...), dtype: backend.F32, f: make([]float32, numel(shape))})
}

// newF32Dirty allocates an F32 tensor whose values are unspecified (freed
// storage of the same size, when the backend has some): for outputs that
// the caller overwrites entirely, sparing a pass that zeroes them. A matrix
// product's output that Go zeroes on allocation costs up to a tenth of a
// 512×512 product's time on the 2-core VM (page faults included).
func (b *Backend) newF32Dirty(shape ...int) *tensor {
	n := numel(shape)
	f := b.spares.get(n)
	if f == nil {
		f = make([]float32, n)
	}
	return b.wrapF32(f, shape...)
}

// wrapF32 makes an F32 tensor of data, which it takes over.
func (b *Backend) wrapF32(data []float32, shape ...int) *tensor {
	return b.track(&tensor{owner: b, shape: append([]int(nil), shape...), dtype: backend.F32, f: data})
}

// storageBytes returns the bytes t's storage occupies.
func (t *tensor) storageBytes() int64 {
	n := 4*int64(len(t.f)) + 4*int64(len(t.i)) + 2*int64(len(t.h))
	if t.q != nil {
		n += int64(len(t.q.Bytes()))
	}
	return n
}

// track counts a new owner tensor's storage as allocated and returns it.
func (b *Backend) track(t *tensor) *tensor {
	n := b.live.Add(t.storageBytes())
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			return t
		}
	}
}

// AllocatedBytes returns the storage bytes of the tensors allocated on this
// backend and not yet freed: what a GPU would hold in buffers for the same
// calls (tensors left to the garbage collector without Free still count,
// as they would leak device memory there).
func (b *Backend) AllocatedBytes() uint64 { return uint64(max(0, b.live.Load())) }

// PeakBytes returns the largest AllocatedBytes since the backend opened or
// the last ResetPeak.
func (b *Backend) PeakBytes() uint64 { return uint64(max(0, b.peak.Load())) }

// ResetPeak starts a new PeakBytes measurement from the bytes allocated
// now.
func (b *Backend) ResetPeak() { b.peak.Store(b.live.Load()) }

// floats returns t's values as float32: the storage itself for F32, a
// widened copy for F16 and BF16, a dequantized one for Q8_0 and NF4.
func (t *tensor) floats() []float32 {
	switch t.dtype {
	case backend.F16, backend.BF16:
		out := make([]float32, len(t.h))
		widen(out, t.h, t.dtype)
		return out
	case backend.Q8_0, backend.NF4:
		out := make([]float32, t.q.Rows*t.q.Cols)
		for r := range t.q.Rows {
			t.q.Row(out[r*t.q.Cols:(r+1)*t.q.Cols], r, 0)
		}
		return out
	}
	return t.f
}

// widen converts F16 or BF16 bits to float32.
func widen(dst []float32, src []uint16, dtype backend.DType) {
	src = src[:len(dst)]
	if dtype == backend.BF16 {
		for i, v := range src {
			dst[i] = bf16ToF32(v)
		}
		return
	}
	for i, v := range src {
		dst[i] = f16ToF32(v)
	}
}
