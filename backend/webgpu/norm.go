//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// rowWG is the workgroup size of the kernels that give one workgroup to
// each row and reduce it in shared memory (norm, softmax, cross_entropy).
const rowWG = 256

// normParams mirrors NormParams in shaders/norm.wgsl.
type normParams struct {
	Rows  uint32
	D     uint32
	Eps   float32
	Flags uint32
}

// Flag bits of normParams.Flags.
const (
	normHasWeight = 1 << 0
	normHasBeta   = 1 << 1
)

// rowGroups returns the workgroup count of a kernel that runs one workgroup
// per row.
func (b *Backend) rowGroups(rows int) [3]uint32 {
	return b.groups1D(rows*rowWG, rowWG)
}

// optional resolves an optional tensor argument. nil gives the backend's
// placeholder number slot (a buffer bound in its place but never read,
// because the kernel's flag for it is off) and has = false; each absent
// input of one dispatch takes its own slot.
func (b *Backend) optional(op, name string, t backend.Tensor, slot int) (tt *tensor, has bool, err error) {
	if t == nil {
		if tt, err = b.placeholder(slot); err != nil {
			return nil, false, fmt.Errorf("webgpu: %s: placeholder for %s: %w", op, name, err)
		}
		return tt, false, nil
	}
	if tt, err = b.tensorOf(op, t); err != nil {
		return nil, false, fmt.Errorf("%w (argument %s)", err, name)
	}
	return tt, true, nil
}

// normRows returns x's row count and row length for a normalisation over
// the last axis.
func normRows(op string, x *tensor) (rows, d int, err error) {
	if len(x.shape) == 0 || x.dtype != backend.F32 {
		return 0, 0, fmt.Errorf("webgpu: %s: x %v %s: want F32 with at least one dimension", op, x.shape, x.dtype)
	}
	d = x.shape[len(x.shape)-1]
	if d == 0 {
		return 0, 0, nil
	}
	return x.n / d, d, nil
}

// runNorm runs entry of norm.wgsl over xt's rows, binding out, xt, the
// weight (or a placeholder) and, when extra is non-nil, extra (beta or dy).
func (b *Backend) runNorm(op, entry string, xt *tensor, weight backend.Tensor, extra *tensor, flags uint32, eps float32) (backend.Tensor, error) {
	rows, d, err := normRows(op, xt)
	if err != nil {
		return nil, err
	}
	wt, hasW, err := b.optional(op, "weight", weight, 0)
	if err != nil {
		return nil, err
	}
	if hasW {
		flags |= normHasWeight
	}
	out, err := b.alloc(op, backend.F32, xt.shape...)
	if err != nil {
		return nil, err
	}
	if rows == 0 {
		return out, nil
	}
	bufs := []*tensor{out, xt, wt}
	if extra != nil {
		bufs = append(bufs, extra)
	}
	p := normParams{Rows: uint32(rows), D: uint32(d), Eps: eps, Flags: flags}
	if err := b.dispatch("norm.wgsl", entry, &p, b.rowGroups(rows), bufs...); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v: %w", op, xt.shape, err)
	}
	return out, nil
}

// LayerNorm returns (x − mean)/sqrt(var + eps) ⊙ gamma + beta over the last
// axis, with the biased variance torch uses; gamma and beta may be nil.
func (b *Backend) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	const op = "LayerNorm"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	bt, hasB, err := b.optional(op, "beta", beta, 1)
	if err != nil {
		return nil, err
	}
	var flags uint32
	if hasB {
		flags |= normHasBeta
	}
	return b.runNorm(op, "layernorm", xt, gamma, bt, flags, eps)
}

// LayerNormBackward returns dx of LayerNorm for upstream gradient dy; gamma
// may be nil.
func (b *Backend) LayerNormBackward(x, gamma, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	return b.normBackward("LayerNormBackward", "layernorm_backward", x, gamma, dy, eps)
}

// RMSNorm returns x / sqrt(mean(x²) + eps) ⊙ w over the last axis (T5's
// LayerNorm, LlamaRMSNorm); w may be nil.
func (b *Backend) RMSNorm(x, w backend.Tensor, eps float32) (backend.Tensor, error) {
	const op = "RMSNorm"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	return b.runNorm(op, "rmsnorm", xt, w, nil, 0, eps)
}

// RMSNormBackward returns dx of RMSNorm for upstream gradient dy; w may be
// nil.
func (b *Backend) RMSNormBackward(x, w, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	return b.normBackward("RMSNormBackward", "rmsnorm_backward", x, w, dy, eps)
}

// normBackward runs a backward entry of norm.wgsl, which binds dy last.
func (b *Backend) normBackward(op, entry string, x, weight, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	dt, err := b.tensorOf(op, dy)
	if err != nil {
		return nil, err
	}
	return b.runNorm(op, entry, xt, weight, dt, 0, eps)
}
