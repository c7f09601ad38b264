//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Operation codes of elementwise.wgsl's binary kernel.
const (
	opAdd uint32 = iota
	opSub
	opMul
)

type binaryParams struct{ N, NB, Op uint32 }

type affineParams struct {
	N           uint32
	Alpha, Beta float32
}

type axpyParams struct {
	N     uint32
	W     float32
	First uint32
}

// wg1D is the workgroup size of the 1-D element-wise kernels.
const wg1D = 256

// Add returns a + b, b's shape equal to a's or a suffix of it.
func (b *Backend) Add(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Add", opAdd, x, y)
}

// Sub returns a − b, broadcasting as Add.
func (b *Backend) Sub(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Sub", opSub, x, y)
}

// Mul returns a ⊙ b, broadcasting as Add.
func (b *Backend) Mul(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Mul", opMul, x, y)
}

func (b *Backend) binary(op string, code uint32, x, y backend.Tensor) (backend.Tensor, error) {
	if b.asSplit(x) != nil || b.asSplit(y) != nil {
		return b.binarySplit(op, code, x, y)
	}
	a, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	c, err := b.tensorOf(op, y)
	if err != nil {
		return nil, err
	}
	if a.dtype != backend.F32 || c.dtype != backend.F32 {
		return nil, fmt.Errorf("webgpu: %s: a %v %s, b %v %s: want F32", op, a.shape, a.dtype, c.shape, c.dtype)
	}
	if len(c.shape) > len(a.shape) || !slices.Equal(c.shape, a.shape[len(a.shape)-len(c.shape):]) {
		return nil, fmt.Errorf("webgpu: %s: b %v is not a suffix of a %v", op, c.shape, a.shape)
	}
	if c.n == 0 && a.n != 0 {
		return nil, fmt.Errorf("webgpu: %s: b %v is empty", op, c.shape)
	}
	out, err := b.alloc(op, backend.F32, a.shape...)
	if err != nil {
		return nil, err
	}
	entry, w := vecEntry("binary", a.n, c.n)
	p := &binaryParams{N: uint32(a.n / w), NB: uint32(max(c.n/w, 1)), Op: code}
	if err := b.dispatch("elementwise.wgsl", entry, p, b.groups1D(a.n/w, wg1D), out, a, c); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s %v, %v: %w", op, a.shape, c.shape, err)
	}
	return out, nil
}

// Affine returns alpha·x + beta.
func (b *Backend) Affine(x backend.Tensor, alpha, beta float32) (backend.Tensor, error) {
	t, err := b.f32("Affine", x)
	if err != nil {
		return nil, err
	}
	out, err := b.alloc("Affine", backend.F32, t.shape...)
	if err != nil {
		return nil, err
	}
	entry, w := vecEntry("affine", t.n)
	p := &affineParams{N: uint32(t.n / w), Alpha: alpha, Beta: beta}
	if err := b.dispatch("elementwise.wgsl", entry, p, b.groups1D(t.n/w, wg1D), out, t); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: Affine %v: %w", t.shape, err)
	}
	return out, nil
}

// WeightedSum returns Σ weights[i]·xs[i] over tensors of one shape.
func (b *Backend) WeightedSum(xs []backend.Tensor, weights []float32) (backend.Tensor, error) {
	if len(xs) == 0 || len(xs) != len(weights) {
		return nil, fmt.Errorf("webgpu: WeightedSum: %d tensors and %d weights: want the same, at least one", len(xs), len(weights))
	}
	ts := make([]*tensor, len(xs))
	for i, x := range xs {
		t, err := b.f32("WeightedSum", x)
		if err != nil {
			return nil, fmt.Errorf("%w (tensor %d)", err, i)
		}
		if i > 0 && !slices.Equal(t.shape, ts[0].shape) {
			return nil, fmt.Errorf("webgpu: WeightedSum: tensor %d has shape %v, tensor 0 %v", i, t.shape, ts[0].shape)
		}
		ts[i] = t
	}
	out, err := b.alloc("WeightedSum", backend.F32, ts[0].shape...)
	if err != nil {
		return nil, err
	}
	entry, w := vecEntry("axpy", ts[0].n)
	n := ts[0].n / w
	for i, t := range ts {
		p := &axpyParams{N: uint32(n), W: weights[i], First: boolU32(i == 0)}
		if err := b.dispatch("elementwise.wgsl", entry, p, b.groups1D(n, wg1D), out, t); err != nil {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: WeightedSum %v: %w", t.shape, err)
		}
	}
	return out, nil
}

// vecEntry returns the vec4 variant of a 1-D element-wise entry (its name
// with "4" appended) and 4, the elements each thread handles, when every
// count in ns is a positive multiple of 4; otherwise the scalar entry and 1.
// Moving 16 bytes per access lets memory-bound kernels approach the
// device's bandwidth.
func vecEntry(entry string, ns ...int) (string, int) {
	for _, n := range ns {
		if n == 0 || n%4 != 0 {
			return entry, 1
		}
	}
	return entry + "4", 4
}

// f32 is tensorOf that also requires F32 storage.
func (b *Backend) f32(op string, x backend.Tensor) (*tensor, error) {
	t, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	if t.dtype != backend.F32 {
		return nil, fmt.Errorf("webgpu: %s: tensor %v is %s, want F32", op, t.shape, t.dtype)
	}
	return t, nil
}

func boolU32(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}
