//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// moeWG is the workgroup size of moe.wgsl's top_k.
const moeWG = 64

// topKParams mirrors TopKParams in shaders/moe.wgsl.
type topKParams struct {
	N, E, K uint32
}

// expertParams mirrors ExpertParams in shaders/moe.wgsl.
type expertParams struct {
	N, DOut, DIn, K, Shared, Backward, E, Experts, WDT, Cols, NW, Bit, Zero uint32
	Lo, Rows, First, Add                                                    uint32
}

// expertRangeMsg is ExpertLinear's device error flag message.
const expertRangeMsg = "an expert id is outside [0, experts); its slot's row of the result is zeros"

// TopK returns the indices of each row's k largest values of x [N, E] as
// I32 [N, k] (see backend.Backend), one thread per row: routers have few
// experts, so a row's k scans cost less than coordinating threads.
func (b *Backend) TopK(x backend.Tensor, k int) (backend.Tensor, error) {
	const op = "TopK"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	if len(xt.shape) != 2 || xt.dtype != backend.F32 || k < 1 || k > xt.shape[1] {
		return nil, fmt.Errorf("webgpu: %s: x %v %s, k %d: want F32 [N, E] and 1 ≤ k ≤ E", op, xt.shape, xt.dtype, k)
	}
	n, e := xt.shape[0], xt.shape[1]
	out, err := b.alloc(op, backend.I32, n, k)
	if err != nil || out.n == 0 {
		return out, err
	}
	p := topKParams{N: uint32(n), E: uint32(e), K: uint32(k)}
	if err := b.dispatch("moe.wgsl", "top_k", &p, b.groups1D(n, moeWG), out, xt); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v k %d: %w", op, xt.shape, k, err)
	}
	return out, nil
}

// ExpertLinear runs each slot of ids [N, k] through its expert's weight
// (see backend.Backend) with one dispatch per expert of moe.wgsl's
// expert_linear, whose threads skip the slots of other experts: the ids
// stay on the device and the experts' weights stay the separate tensors
// they are (F32, F16, BF16, Q8_0 or NF4), a weight split by rows over the
// binding limit taking one dispatch per part. Each thread computes one
// output as a plain dot product, a first kernel that favours simplicity
// over tiling.
func (b *Backend) ExpertLinear(x backend.Tensor, ws []backend.Tensor, ids backend.Tensor, o backend.ExpertOptions) (backend.Tensor, error) {
	const op = "ExpertLinear"
	xt, err := b.tensorOf(op, x)
	if err != nil {
		return nil, err
	}
	it, err := b.tensorOf(op, ids)
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 || len(it.shape) != 2 || it.dtype != backend.I32 {
		return nil, fmt.Errorf("webgpu: %s: %d experts, ids %v %s: want experts and I32 [N, k]", op, len(ws), it.shape, it.dtype)
	}
	wts := make([]*tensor, len(ws))
	for e, w := range ws {
		if wts[e], err = b.anyTensorOf(op, w); err != nil {
			return nil, fmt.Errorf("expert %d: %w", e, err)
		}
		if len(wts[e].shape) != 2 || !wts[e].dtype.IsFloat() {
			return nil, fmt.Errorf("webgpu: %s: expert %d weight %v %s: want a 2-D float weight", op, e, wts[e].shape, wts[e].dtype)
		}
	}
	rows, cols := wts[0].shape[0], wts[0].shape[1]
	din, dout := cols, rows
	if o.Backward {
		din, dout = rows, cols
	}
	n, k := it.shape[0], it.shape[1]
	shared, want := uint32(0), n*k*din
	if len(xt.shape) == 2 {
		shared, want = 1, n*din
	}
	if xt.n != want || xt.dtype != backend.F32 {
		return nil, fmt.Errorf("webgpu: %s: x %v %s for ids %v and weights %v", op, xt.shape, xt.dtype, it.shape, wts[0].shape)
	}
	out, err := b.alloc(op, backend.F32, n, k, dout)
	if err != nil || out.n == 0 {
		return out, err
	}
	flag, bit, err := b.errorFlag(op, expertRangeMsg)
	if err != nil {
		b.Free(out)
		return nil, err
	}
	back := uint32(0)
	if o.Backward {
		back = 1
	}
	first := uint32(1)
	for e, wt := range wts {
		if !slices.Equal(wt.shape, wts[0].shape) {
			b.Free(out)
			return nil, fmt.Errorf("webgpu: %s: expert %d weight %v differs from expert 0's %v", op, e, wt.shape, wts[0].shape)
		}
		parts, starts := []*tensor{wt}, []int{0, rows}
		if wt.split != nil {
			parts, starts = wt.split.parts, wt.split.starts
		}
		for i, part := range parts {
			p := expertParams{N: uint32(out.n), DOut: uint32(dout), DIn: uint32(din), K: uint32(k), Shared: shared,
				Backward: back, E: uint32(e), Experts: uint32(len(wts)), WDT: dtCode(part.dtype), Cols: uint32(cols),
				NW: uint32(part.n), Bit: bit, Lo: uint32(starts[i]), Rows: uint32(starts[i+1] - starts[i]), First: first}
			if i > 0 {
				p.Add = 1
			}
			first = 0
			if err := b.dispatch("moe.wgsl", "expert_linear", &p, b.groups1D(out.n, moeWG), out, xt, part, it, flag); err != nil {
				b.Free(out)
				return nil, fmt.Errorf("webgpu: %s x %v expert %d weight %v %s part %d: %w", op, xt.shape, e, wt.shape, wt.dtype, i, err)
			}
		}
	}
	return out, nil
}
