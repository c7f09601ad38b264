//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// ropeWG is the workgroup size of rope.wgsl.
const ropeWG = 256

// ropeParams mirrors RopeParams in shaders/rope.wgsl.
type ropeParams struct {
	N     uint32
	D     uint32
	T     uint32
	H     uint32
	R     uint32
	Flags uint32
	Pad0  uint32
	Pad1  uint32
}

// Flag bits of ropeParams.Flags.
const (
	ropeInverse  = 1 << 0
	ropePerBatch = 1 << 1
)

// Rope rotates x [B, H, T, D] in the rotate_half layout of transformers'
// Llama: the first R = 2·len(InvFreq) features turn by pos·inv_freq (the
// float32 product, as transformers computes it), the rest are copied.
// Inverse turns the other way, which is the backward pass.
func (b *Backend) Rope(x backend.Tensor, o backend.RopeOptions) (backend.Tensor, error) {
	const op = "Rope"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	if len(xt.shape) != 4 || xt.dtype != backend.F32 {
		return nil, fmt.Errorf("webgpu: %s: x %v %s: want F32 [B, H, T, D]", op, xt.shape, xt.dtype)
	}
	freq, err := b.tensorOf(op, o.InvFreq)
	if err != nil {
		return nil, fmt.Errorf("%w (InvFreq)", err)
	}
	pos, err := b.tensorOf(op, o.Positions)
	if err != nil {
		return nil, fmt.Errorf("%w (Positions)", err)
	}
	r := 2 * freq.n
	if freq.dtype != backend.F32 || r == 0 || r > xt.shape[3] {
		return nil, fmt.Errorf("webgpu: %s: InvFreq %v %s for x %v: want F32 [R/2] with 0 < R ≤ D", op, freq.shape, freq.dtype, xt.shape)
	}
	if pos.dtype != backend.I32 {
		return nil, fmt.Errorf("webgpu: %s: Positions %v is %s, want I32", op, pos.shape, pos.dtype)
	}
	p := ropeParams{
		N: uint32(xt.n), D: uint32(xt.shape[3]), T: uint32(xt.shape[2]), H: uint32(xt.shape[1]), R: uint32(r),
	}
	if o.Inverse {
		p.Flags |= ropeInverse
	}
	if len(pos.shape) == 2 {
		p.Flags |= ropePerBatch
	}
	out, err := b.alloc(op, backend.F32, xt.shape...)
	if err != nil {
		return nil, err
	}
	if xt.n == 0 {
		return out, nil
	}
	if err := b.dispatch("rope.wgsl", "rope", &p, b.groups1D(xt.n, ropeWG), out, xt, freq, pos); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v: %w", op, xt.shape, err)
	}
	return out, nil
}
