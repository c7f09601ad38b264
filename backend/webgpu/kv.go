//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// kvWG is the workgroup size of kv.wgsl.
const kvWG = 256

// kvParams mirrors KVParams in shaders/kv.wgsl.
type kvParams struct {
	N     uint32
	Rep   uint32
	HKV   uint32
	Inner uint32
}

// headsDims checks x is F32 [B, H, T, D] and returns its dimensions.
func headsDims(op string, x *tensor) (bsz, h, t, d int, err error) {
	if len(x.shape) != 4 || x.dtype != backend.F32 {
		return 0, 0, 0, 0, fmt.Errorf("webgpu: %s: x %v %s: want F32 [B, H, T, D]", op, x.shape, x.dtype)
	}
	return x.shape[0], x.shape[1], x.shape[2], x.shape[3], nil
}

// RepeatKV repeats each head of x [B, Hkv, T, D] n times, giving
// [B, Hkv·n, T, D] where head h is x's head h / n (grouped-query attention).
func (b *Backend) RepeatKV(x backend.Tensor, n int) (backend.Tensor, error) {
	const op = "RepeatKV"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	bsz, hkv, t, d, err := headsDims(op, xt)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("webgpu: %s: x %v: repeat count %d is not positive", op, xt.shape, n)
	}
	return b.runKV(op, "repeat_kv", xt, n, hkv, []int{bsz, hkv * n, t, d})
}

// SumKV is the backward of RepeatKV: it sums each group of n consecutive
// heads of x [B, Hkv·n, T, D], giving [B, Hkv, T, D].
func (b *Backend) SumKV(x backend.Tensor, n int) (backend.Tensor, error) {
	const op = "SumKV"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	bsz, h, t, d, err := headsDims(op, xt)
	if err != nil {
		return nil, err
	}
	if n <= 0 || h%n != 0 {
		return nil, fmt.Errorf("webgpu: %s: x %v: %d heads not divisible by group size %d", op, xt.shape, h, n)
	}
	return b.runKV(op, "sum_kv", xt, n, h/n, []int{bsz, h / n, t, d})
}

// runKV dispatches entry of kv.wgsl with one thread per element of the
// result of shape shape.
func (b *Backend) runKV(op, entry string, x *tensor, n, hkv int, shape []int) (backend.Tensor, error) {
	out, err := b.alloc(op, backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	if out.n == 0 {
		return out, nil
	}
	p := kvParams{N: uint32(out.n), Rep: uint32(n), HKV: uint32(hkv), Inner: uint32(shape[2] * shape[3])}
	if err := b.dispatch("kv.wgsl", entry, &p, b.groups1D(out.n, kvWG), out, x); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v n=%d: %w", op, x.shape, n, err)
	}
	return out, nil
}
