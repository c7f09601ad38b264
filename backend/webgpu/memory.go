//go:build cgo && !nowebgpu

package webgpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
)

// Info describes the adapter the backend runs on.
func (b *Backend) Info() backend.DeviceInfo { return b.info }

// Close waits for queued work and releases the device, its buffers and
// pipelines. Tensors of the backend must not be used afterwards.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.dev.Close()
	b.inst.Release()
	if err != nil {
		return fmt.Errorf("webgpu: closing %s: %w", b.info.Spec, err)
	}
	return nil
}

// Sync submits queued work, waits for it and returns any error the device
// reported since the last call.
func (b *Backend) Sync() error {
	if b.closed {
		return fmt.Errorf("webgpu: Sync: backend is closed")
	}
	if err := b.dev.Sync(); err != nil {
		return fmt.Errorf("webgpu: %s: %w", b.info.Spec, err)
	}
	return b.checkDevice()
}

// Zeros allocates an F32 tensor of zeros.
func (b *Backend) Zeros(shape ...int) (backend.Tensor, error) {
	return b.zeros("Zeros", backend.F32, shape...)
}

// FromFloat32 uploads data as an F32 tensor.
func (b *Backend) FromFloat32(data []float32, shape ...int) (backend.Tensor, error) {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return b.upload("FromFloat32", backend.F32, raw, len(data), shape)
}

// FromInt32 uploads data as an I32 tensor.
func (b *Backend) FromInt32(data []int32, shape ...int) (backend.Tensor, error) {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
	}
	return b.upload("FromInt32", backend.I32, raw, len(data), shape)
}

// FromBytes uploads little-endian storage of dtype as is: F16 and BF16 stay
// packed two per word and are widened by the kernels that read them.
func (b *Backend) FromBytes(dtype backend.DType, data []byte, shape ...int) (backend.Tensor, error) {
	switch dtype {
	case backend.F32, backend.F16, backend.BF16, backend.I32:
	case backend.Q8_0, backend.NF4:
		return b.fromQuantBytes(dtype, data, shape)
	default:
		return nil, fmt.Errorf("webgpu: FromBytes: unsupported dtype %s", dtype)
	}
	if len(data)%dtype.Size() != 0 {
		return nil, fmt.Errorf("webgpu: FromBytes: %d bytes is not a whole number of %s elements", len(data), dtype)
	}
	return b.upload("FromBytes", dtype, data, len(data)/dtype.Size(), shape)
}

// upload allocates a tensor and queues the write of raw into it.
func (b *Backend) upload(op string, dtype backend.DType, raw []byte, n int, shape []int) (backend.Tensor, error) {
	if storageBytes(dtype, n) > b.maxBinding() {
		return b.uploadSplit(op, dtype, raw, n, shape)
	}
	t, err := b.alloc(op, dtype, shape...)
	if err != nil {
		return nil, err
	}
	if t.n != n {
		b.Free(t)
		return nil, fmt.Errorf("webgpu: %s: %d elements for shape %v (want %d)", op, n, shape, t.n)
	}
	if pad := int(t.bytes()) - len(raw); pad > 0 {
		raw = append(raw[:len(raw):len(raw)], make([]byte, pad)...)
	}
	if err := b.dev.Write(t.buf, 0, raw); err != nil {
		b.Free(t)
		return nil, fmt.Errorf("webgpu: %s %s %v: %w", op, dtype, shape, err)
	}
	return t, nil
}

// download submits queued work and reads t's storage back.
func (b *Backend) download(op string, t *tensor) ([]byte, error) {
	if t.split != nil {
		return b.downloadSplit(op, t)
	}
	raw, err := b.dev.Read(t.buf, 0, t.bytes())
	if err != nil {
		return nil, fmt.Errorf("webgpu: %s %s %v: %w", op, t.dtype, t.shape, err)
	}
	if err := b.checkDevice(); err != nil {
		return nil, err
	}
	return raw, nil
}

// ToFloat32 downloads a float tensor, widening F16/BF16 on the host.
func (b *Backend) ToFloat32(x backend.Tensor) ([]float32, error) {
	t, err := b.anyTensorOf("ToFloat32", x)
	if err != nil {
		return nil, err
	}
	if !t.dtype.IsFloat() {
		return nil, fmt.Errorf("webgpu: ToFloat32: tensor %v is %s, not a float type", t.shape, t.dtype)
	}
	if t.dtype.IsQuantized() {
		return b.dequantToFloat32(t)
	}
	raw, err := b.download("ToFloat32", t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.n)
	for i := range out {
		switch t.dtype {
		case backend.F32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case backend.F16:
			out[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
		case backend.BF16:
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	}
	return out, nil
}

// ToInt32 downloads an I32 tensor.
func (b *Backend) ToInt32(x backend.Tensor) ([]int32, error) {
	t, err := b.anyTensorOf("ToInt32", x)
	if err != nil {
		return nil, err
	}
	if t.dtype != backend.I32 {
		return nil, fmt.Errorf("webgpu: ToInt32: tensor %v is %s, not I32", t.shape, t.dtype)
	}
	raw, err := b.download("ToInt32", t)
	if err != nil {
		return nil, err
	}
	out := make([]int32, t.n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// Free returns t's storage to the pool. Freeing a view, a tensor of another
// backend, or freeing twice, is a no-op.
func (b *Backend) Free(x backend.Tensor) {
	t, ok := x.(*tensor)
	if !ok || t == nil || t.b != b || t.owner != nil || t.freed || b.closed {
		return
	}
	t.freed = true
	if t.split != nil {
		t.split.free()
		return
	}
	b.dev.Free(t.buf)
}

// View returns a tensor sharing t's storage with another shape of the same
// element count.
func (b *Backend) View(x backend.Tensor, shape ...int) (backend.Tensor, error) {
	t, err := b.anyTensorOf("View", x)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("webgpu: View: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if n != t.n {
		return nil, fmt.Errorf("webgpu: View: shape %v has %d elements, tensor %v has %d", shape, n, t.shape, t.n)
	}
	owner := t
	if t.owner != nil {
		owner = t.owner
	}
	if t.split != nil {
		return b.viewSplit("View", t, owner, shape)
	}
	return &tensor{b: b, buf: t.buf, shape: append([]int(nil), shape...), dtype: t.dtype, n: n, owner: owner}, nil
}

// Copy returns a new F32 tensor equal to t, widening F16/BF16 on the device.
func (b *Backend) Copy(x backend.Tensor) (backend.Tensor, error) {
	t, err := b.anyTensorOf("Copy", x)
	if err != nil {
		return nil, err
	}
	return b.widen("Copy", t)
}

// widen returns an F32 copy of a float tensor (or a plain copy of an I32 one
// as I32).
func (b *Backend) widen(op string, t *tensor) (*tensor, error) {
	if t.split != nil {
		return b.widenSplit(op, t)
	}
	if t.dtype.IsQuantized() {
		return b.dequantize(op, t)
	}
	dt := backend.F32
	if t.dtype == backend.I32 {
		dt = backend.I32
	}
	out, err := b.alloc(op, dt, t.shape...)
	if err != nil {
		return nil, err
	}
	if t.dtype == backend.F32 || t.dtype == backend.I32 {
		err = b.dev.Copy(t.buf, 0, out.buf, 0, t.bytes())
	} else {
		err = b.dispatch("layout.wgsl", "widen", &widenParams{N: uint32(t.n), DT: dtCode(t.dtype)}, b.groups1D(t.n, wg1D), out, t)
	}
	if err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s: %w", op, err)
	}
	return out, nil
}

type widenParams struct{ N, DT uint32 }

// dtCode is the DT_* constant of common.wgsl for a float dtype.
func dtCode(dt backend.DType) uint32 {
	switch dt {
	case backend.F16:
		return 1
	case backend.BF16:
		return 2
	case backend.Q8_0:
		return 3
	case backend.NF4:
		return 4
	}
	return 0
}

// halfToFloat widens an IEEE binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal: value = frac · 2^-24.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
