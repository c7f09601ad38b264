//go:build cgo && !nowebgpu

package webgpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/gpu"
	"github.com/ia3/ia3/quant"
	"github.com/ia3/ia3/shaders"
)

// Backend runs the backend.Backend operations on one WebGPU device. Work is
// recorded and submitted in batches; nothing is read back unless the caller
// downloads a tensor. It is used by one goroutine at a time.
type Backend struct {
	inst   *gpu.Instance
	dev    *gpu.Device
	info   backend.DeviceInfo
	closed bool
	checks deviceChecks
	// matmul is the tiled matmul kernel (tile64 or tile128), from
	// MatMulKernelEnv and the adapter type when the backend opens.
	matmul matmulKernel
	// expert is ExpertLinear's kernel setting (ExpertKernelEnv).
	expert expertKernel
	// placeholders are small buffers bound in place of absent optional
	// inputs whose flags tell the kernel not to read them.
	placeholders []*tensor
	// bindLimit, when non-zero, lowers the storage binding limit below what
	// the adapter reports (BindingLimitEnv; tests of split tensors).
	bindLimit uint64
}

var _ backend.Backend = (*Backend)(nil)

// tensor implements backend.Tensor for this backend. Storage is one pooled
// buffer shared by the owner and its views; elements start at offset 0. F32
// is stored as array<f32>, I32 as array<i32>, F16 and BF16 packed two per
// u32 word (element i in word i/2, low half first).
type tensor struct {
	b     *Backend
	buf   *gpu.Buffer
	shape []int
	dtype backend.DType
	n     int
	owner *tensor // the tensor owning buf; nil for owners
	freed bool
	// split, when non-nil, holds the storage of a tensor larger than one
	// binding as row ranges in several buffers (chunked.go); buf is nil.
	split *split
}

// Shape returns the dimensions.
func (t *tensor) Shape() []int { return t.shape }

// DType returns the storage type.
func (t *tensor) DType() backend.DType { return t.dtype }

// Len returns the number of elements.
func (t *tensor) Len() int { return t.n }

// bytes is the storage size of the tensor's elements, rounded up to a whole
// u32 word.
func (t *tensor) bytes() uint64 { return storageBytes(t.dtype, t.n) }

func storageBytes(dt backend.DType, n int) uint64 {
	if f := dt.QuantFormat(); f != quant.None {
		return quantDeviceBytes(f, n)
	}
	return (uint64(n)*uint64(dt.Size()) + 3) &^ 3
}

// live reports whether t and the tensor owning its storage are not freed.
func (t *tensor) live() bool {
	if t.owner != nil {
		return !t.owner.freed
	}
	return !t.freed
}

// tensorOf checks that t is a live tensor of this backend and returns it
// (error otherwise, naming op).
func (b *Backend) tensorOf(op string, t backend.Tensor) (*tensor, error) {
	tt, err := b.anyTensorOf(op, t)
	if err == nil && tt.split != nil {
		return nil, b.splitRefused(op, tt)
	}
	return tt, err
}

// anyTensorOf is tensorOf accepting split tensors, for the operations that
// handle them (chunked.go).
func (b *Backend) anyTensorOf(op string, t backend.Tensor) (*tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("webgpu: %s: nil tensor", op)
	}
	tt, ok := t.(*tensor)
	if !ok || tt == nil || tt.b != b {
		return nil, fmt.Errorf("webgpu: %s: tensor %v belongs to another backend", op, t.Shape())
	}
	if !tt.live() {
		return nil, fmt.Errorf("webgpu: %s: tensor %v %s used after Free", op, tt.shape, tt.dtype)
	}
	return tt, nil
}

// alloc returns an F32/I32/F16/BF16 tensor from the buffer pool; contents
// undefined. Sizes over the device's storage binding or buffer limit are
// refused before anything is allocated.
func (b *Backend) alloc(op string, dtype backend.DType, shape ...int) (*tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("webgpu: %s: backend is closed", op)
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("webgpu: %s: negative dimension in shape %v", op, shape)
		}
		if d > 0 && n > math.MaxInt64/d {
			return nil, fmt.Errorf("webgpu: %s: shape %v overflows", op, shape)
		}
		n *= d
	}
	size := storageBytes(dtype, n)
	if limit := b.maxBinding(); size > limit {
		return nil, fmt.Errorf("webgpu: %s: %s tensor %v needs %d bytes, over the device's maxStorageBufferBindingSize of %d bytes",
			op, dtype, shape, size, limit)
	}
	buf, err := b.dev.Alloc(size)
	if err != nil {
		return nil, fmt.Errorf("webgpu: %s: allocating %s %v: %w", op, dtype, shape, err)
	}
	return &tensor{b: b, buf: buf, shape: append([]int(nil), shape...), dtype: dtype, n: n}, nil
}

// zeros is alloc followed by a queued clear.
func (b *Backend) zeros(op string, dtype backend.DType, shape ...int) (*tensor, error) {
	t, err := b.alloc(op, dtype, shape...)
	if err != nil {
		return nil, err
	}
	if err := b.dev.Clear(t.buf, 0, (t.bytes()+15)&^15); err != nil {
		b.Free(t)
		return nil, fmt.Errorf("webgpu: %s: clearing %v: %w", op, shape, err)
	}
	return t, nil
}

// dispatch queues one dispatch of entry point entry of shader file file
// (served by package shaders with common.wgsl prepended). params is nil or a
// pointer to a struct of 4-byte fields (uint32, int32, float32) laid out as
// the WGSL uniform struct at @group(0) @binding(0). bufs are bound at
// @binding(1), @binding(2), ... each over its tensor's storage; the shader
// declares them var<storage, read> or var<storage, read_write>. groups is
// the workgroup count (see groups1D). Nothing is submitted until a download,
// Sync, or the batch fills.
//
// Rules the shader files follow:
//   - Within one file a binding number keeps one access mode across entry
//     points (the pipeline layout is built per binding number); its WGSL
//     type may differ (array<f32> in one entry, array<u32> in another).
//   - A tensor bound read-write may not be bound again in the same dispatch;
//     if it is, the other binding reads a scratch copy (correct, but a copy).
//   - Bind b.placeholder(i) for absent optional inputs rather than repeating
//     another argument: lavapipe runs dispatches that bind one buffer in many
//     slots tens of times slower.
func (b *Backend) dispatch(file, entry string, params any, groups [3]uint32, bufs ...*tensor) error {
	var raw []byte
	if params != nil {
		var err error
		if raw, err = encodeParams(params); err != nil {
			return fmt.Errorf("webgpu: %s %s: %w", file, entry, err)
		}
	}
	p, err := b.dev.Pipeline(file, entry, func() (string, error) { return shaders.Source(file) }, raw != nil, len(bufs))
	if err != nil {
		return fmt.Errorf("webgpu: %w", err)
	}
	bind := make([]gpu.Binding, len(bufs))
	for i, t := range bufs {
		if t == nil {
			return fmt.Errorf("webgpu: %s %s: buffer %d is nil", file, entry, i+1)
		}
		bind[i] = gpu.Binding{Buf: t.buf, Size: max(16, (t.bytes()+15)&^15)}
	}
	if err := b.dev.Dispatch(p, raw, groups, bind); err != nil {
		return fmt.Errorf("webgpu: %s %s: %w", file, entry, err)
	}
	return nil
}

// groups1D returns the workgroup count covering n invocations of wgSize
// each, folding counts over the per-axis limit into y. Shaders recover the
// flat index with linear_index (common.wgsl).
func (b *Backend) groups1D(n, wgSize int) [3]uint32 {
	g := (n + wgSize - 1) / wgSize
	lim := int(b.dev.Limits().MaxWorkgroupsPerDimension)
	if g <= lim {
		return [3]uint32{uint32(g), 1, 1}
	}
	return [3]uint32{uint32(lim), uint32((g + lim - 1) / lim), 1}
}

// encodeParams lays out a pointer to a struct of 4-byte scalars as WGSL
// would lay out the same uniform struct: consecutive little-endian words.
func encodeParams(params any) ([]byte, error) {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("params must be a pointer to a struct, got %T", params)
	}
	v = v.Elem()
	out := make([]byte, 0, 4*v.NumField())
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Uint32:
			out = binary.LittleEndian.AppendUint32(out, uint32(f.Uint()))
		case reflect.Int32:
			out = binary.LittleEndian.AppendUint32(out, uint32(int32(f.Int())))
		case reflect.Float32:
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(f.Float())))
		default:
			return nil, fmt.Errorf("params field %s of %T is %s, want uint32, int32 or float32",
				v.Type().Field(i).Name, params, f.Kind())
		}
	}
	if len(out) == 0 {
		out = make([]byte, 4)
	}
	return out, nil
}

// placeholder returns the backend's i-th placeholder tensor, allocating it
// on first use. Each absent input gets its own: binding one buffer in many
// slots of a dispatch makes some drivers (lavapipe) many times slower.
func (b *Backend) placeholder(i int) (*tensor, error) {
	for len(b.placeholders) <= i {
		t, err := b.zeros("placeholder", backend.F32, 4)
		if err != nil {
			return nil, err
		}
		b.placeholders = append(b.placeholders, t)
	}
	return b.placeholders[i], nil
}
