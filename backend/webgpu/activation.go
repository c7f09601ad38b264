//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

type actParams struct{ N, F uint32 }

// Activation applies f element-wise.
func (b *Backend) Activation(f backend.Unary, x backend.Tensor) (backend.Tensor, error) {
	if f > backend.Log {
		return nil, fmt.Errorf("webgpu: Activation: unknown activation %s", f)
	}
	t, err := b.f32("Activation", x)
	if err != nil {
		return nil, err
	}
	return b.elementwise("Activation "+f.String(), "act", &actParams{N: uint32(t.n), F: uint32(f)}, t)
}

// ActivationBackward returns dy ⊙ f'(x).
func (b *Backend) ActivationBackward(f backend.Unary, x, dy backend.Tensor) (backend.Tensor, error) {
	if f > backend.Log {
		return nil, fmt.Errorf("webgpu: ActivationBackward: unknown activation %s", f)
	}
	ts, err := b.sameShape("ActivationBackward", x, dy)
	if err != nil {
		return nil, err
	}
	return b.elementwise("ActivationBackward "+f.String(), "act_grad", &actParams{N: uint32(ts[0].n), F: uint32(f)}, ts...)
}

// SwiGLU returns silu(gate) ⊙ up.
func (b *Backend) SwiGLU(gate, up backend.Tensor) (backend.Tensor, error) {
	ts, err := b.sameShape("SwiGLU", gate, up)
	if err != nil {
		return nil, err
	}
	return b.elementwise("SwiGLU", "swiglu", &actParams{N: uint32(ts[0].n)}, ts...)
}

// SwiGLUBackward returns the gradients of gate and up.
func (b *Backend) SwiGLUBackward(gate, up, dy backend.Tensor) (dgate, dup backend.Tensor, err error) {
	ts, err := b.sameShape("SwiGLUBackward", gate, up, dy)
	if err != nil {
		return nil, nil, err
	}
	p := &actParams{N: uint32(ts[0].n)}
	dg, err := b.elementwise("SwiGLUBackward", "swiglu_dgate", p, ts...)
	if err != nil {
		return nil, nil, err
	}
	du, err := b.elementwise("SwiGLUBackward", "swiglu_dup", p, ts...)
	if err != nil {
		b.Free(dg)
		return nil, nil, err
	}
	return dg, du, nil
}

// elementwise allocates an output shaped like ins[0] and runs entry of
// activation.wgsl over it, or its vec4 variant when p.N is a multiple of 4.
func (b *Backend) elementwise(op, entry string, p *actParams, ins ...*tensor) (backend.Tensor, error) {
	out, err := b.alloc(op, backend.F32, ins[0].shape...)
	if err != nil {
		return nil, err
	}
	entry, w := vecEntry(entry, int(p.N))
	vp := *p
	vp.N /= uint32(w)
	bufs := append([]*tensor{out}, ins...)
	if err := b.dispatch("activation.wgsl", entry, &vp, b.groups1D(int(vp.N), wg1D), bufs...); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s %v: %w", op, ins[0].shape, err)
	}
	return out, nil
}

// sameShape resolves F32 tensors that must share one shape.
func (b *Backend) sameShape(op string, xs ...backend.Tensor) ([]*tensor, error) {
	ts := make([]*tensor, len(xs))
	for i, x := range xs {
		t, err := b.f32(op, x)
		if err != nil {
			return nil, err
		}
		if i > 0 && !slices.Equal(t.shape, ts[0].shape) {
			return nil, fmt.Errorf("webgpu: %s: argument %d has shape %v, argument 0 %v", op, i, t.shape, ts[0].shape)
		}
		ts[i] = t
	}
	return ts, nil
}
