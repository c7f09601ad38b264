//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// softmaxParams mirrors SoftmaxParams in shaders/softmax.wgsl.
type softmaxParams struct {
	Rows     uint32
	Tk       uint32
	Tq       uint32
	H        uint32
	Scale    float32
	Flags    uint32
	BiasRows uint32
	Window   uint32 // 0: no sliding window
}

// Flag bits of softmaxParams.Flags.
const (
	smCausal       = 1 << 0
	smKeyMask      = 1 << 1
	smBias         = 1 << 2
	smBiasPerBatch = 1 << 3
)

// scoresDims returns B, H, Tq, Tk of a scores tensor [B, H, Tq, Tk].
func scoresDims(op, name string, t *tensor) (bsz, h, tq, tk int, err error) {
	if len(t.shape) != 4 || t.dtype != backend.F32 {
		return 0, 0, 0, 0, fmt.Errorf("webgpu: %s: %s %v %s: want F32 [B, H, Tq, Tk]", op, name, t.shape, t.dtype)
	}
	return t.shape[0], t.shape[1], t.shape[2], t.shape[3], nil
}

// Softmax normalises scores [B, H, Tq, Tk] over the last axis after scaling,
// adding the bias and masking (see backend.SoftmaxOptions): one workgroup
// per row, the maximum subtracted before exponentiating.
func (b *Backend) Softmax(scores backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	const op = "Softmax"
	x, err := b.tensorOf(op, scores)
	if err != nil {
		return nil, err
	}
	bsz, h, tq, tk, err := scoresDims(op, "scores", x)
	if err != nil {
		return nil, err
	}
	p := softmaxParams{
		Rows: uint32(bsz * h * tq), Tk: uint32(tk), Tq: uint32(tq), H: uint32(h),
		Scale: o.Scale, BiasRows: uint32(h * tq),
	}
	if p.Scale == 0 {
		p.Scale = 1
	}
	if o.Causal {
		p.Flags |= smCausal
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("webgpu: %s: window %d is negative", op, o.Window)
	}
	p.Window = uint32(min(o.Window, 1<<31-1))
	mask, hasMask, err := b.optional(op, "KeyMask", o.KeyMask, 0)
	if err != nil {
		return nil, err
	}
	if hasMask {
		p.Flags |= smKeyMask
	}
	bias, hasBias, err := b.optional(op, "Bias", o.Bias, 1)
	if err != nil {
		return nil, err
	}
	if hasBias {
		p.Flags |= smBias
		if len(bias.shape) == 4 {
			p.Flags |= smBiasPerBatch
		}
	}
	out, err := b.alloc(op, backend.F32, x.shape...)
	if err != nil {
		return nil, err
	}
	if p.Rows == 0 || tk == 0 {
		return out, nil
	}
	if err := b.dispatch("softmax.wgsl", "softmax", &p, b.rowGroups(int(p.Rows)), out, x, mask, bias); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s scores %v: %w", op, x.shape, err)
	}
	return out, nil
}

// SoftmaxBackward returns scale · y ⊙ (dy − Σ dy ⊙ y) over the last axis of
// y [B, H, Tq, Tk]: the gradient of the logits before Softmax scaled them.
// A scale of 0 means 1, as in SoftmaxOptions.
func (b *Backend) SoftmaxBackward(y, dy backend.Tensor, scale float32) (backend.Tensor, error) {
	const op = "SoftmaxBackward"
	yt, err := b.tensorOf(op, y)
	if err != nil {
		return nil, err
	}
	dt, err := b.tensorOf(op, dy)
	if err != nil {
		return nil, err
	}
	bsz, h, tq, tk, err := scoresDims(op, "y", yt)
	if err != nil {
		return nil, err
	}
	if scale == 0 {
		scale = 1
	}
	p := softmaxParams{Rows: uint32(bsz * h * tq), Tk: uint32(tk), Tq: uint32(tq), H: uint32(h), Scale: scale}
	out, err := b.alloc(op, backend.F32, yt.shape...)
	if err != nil {
		return nil, err
	}
	if p.Rows == 0 || tk == 0 {
		return out, nil
	}
	if err := b.dispatch("softmax.wgsl", "softmax_backward", &p, b.rowGroups(int(p.Rows)), out, yt, dt); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s y %v: %w", op, yt.shape, err)
	}
	return out, nil
}
