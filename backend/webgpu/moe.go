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
	Lo, Rows, First, Add, Slots                                             uint32
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
// (see backend.Backend). The ids stay on the device and the experts'
// weights stay the separate tensors they are (F32, F16, BF16, Q8_0 or NF4),
// so each expert takes its own dispatches (one per part of a weight split
// by rows over the binding limit), sized for the worst case, every slot on
// that expert, as the host never reads the routing. The kernel
// (moe_kernel.go, ExpertKernelEnv) is chosen by the slot count N·k: many
// slots (prefill, training) run expert_route, which lists each expert's
// slots in a scratch buffer, then expert_tiled's 64×64 tiles (or
// expert_large's 128×128) over each list; few slots run expert_dot
// (forward, long rows) or the simple one-thread-per-output expert_linear,
// whose threads for other experts' slots return at once.
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
		if !slices.Equal(wts[e].shape, wts[0].shape) {
			return nil, fmt.Errorf("webgpu: %s: expert %d weight %v differs from expert 0's %v", op, e, wts[e].shape, wts[0].shape)
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
	base := expertParams{N: uint32(out.n), DOut: uint32(dout), DIn: uint32(din), K: uint32(k), Shared: shared,
		Experts: uint32(len(wts)), Cols: uint32(cols), Bit: bit, Slots: uint32(n * k)}
	if o.Backward {
		base.Backward = 1
	}
	sh := expertShape{slots: n * k, experts: len(wts), din: din, dout: dout, backward: o.Backward}
	switch b.expert.pick(sh, b.info.Type) {
	case expertDot:
		err = b.expertDot(base, out, xt, wts, it, flag)
	case expertTiled:
		err = b.expertTiled(base, out, xt, wts, it, flag, "expert_tiled", mmTile)
	case expertTiled128:
		err = b.expertTiled(base, out, xt, wts, it, flag, "expert_large", mmLargeTile)
	default:
		err = b.expertSimple(base, out, xt, wts, it, flag)
	}
	if err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s x %v, %d experts %v %s, ids %v: %w", op, xt.shape, len(wts), wts[0].shape, wts[0].dtype, it.shape, err)
	}
	return out, nil
}

// expertPart is one dispatch's share of an expert's weight: the buffer
// holding weight rows [lo, lo+rows) (the whole weight unless it is split).
type expertPart struct {
	t        *tensor
	lo, rows int
}

// expertParts lists the parts of an expert's weight of rows rows.
func expertParts(w *tensor, rows int) []expertPart {
	if w.split == nil {
		return []expertPart{{w, 0, rows}}
	}
	ps := make([]expertPart, len(w.split.parts))
	for i, p := range w.split.parts {
		lo, r := w.split.rows(i)
		ps[i] = expertPart{p, lo, r}
	}
	return ps
}

// partParams completes base for part i of expert e's weight.
func partParams(base expertParams, e, i int, part expertPart) expertParams {
	p := base
	p.E, p.WDT, p.NW = uint32(e), dtCode(part.t.dtype), uint32(part.t.n)
	p.Lo, p.Rows = uint32(part.lo), uint32(part.rows)
	if i > 0 {
		p.Add = 1
	}
	return p
}

// expertSimple runs moe.wgsl's expert_linear: per expert and part, one
// thread per output element of every slot. The forward's part owning an
// output row writes it; in the backward every part adds its rows' terms,
// the first writing. The op's first dispatch zeroes the rows of slots
// whose id is out of range.
func (b *Backend) expertSimple(base expertParams, out, x *tensor, wts []*tensor, ids, flag *tensor) error {
	first := uint32(1)
	for e, wt := range wts {
		for i, part := range expertParts(wt, wt.shape[0]) {
			p := partParams(base, e, i, part)
			p.First, first = first, 0
			if err := b.dispatch("moe.wgsl", "expert_linear", &p, b.groups1D(out.n, moeWG), out, x, part.t, ids, flag); err != nil {
				return fmt.Errorf("expert %d part %d: %w", e, i, err)
			}
		}
	}
	return nil
}

// expertDot runs moe.wgsl's expert_dot (forward only): per expert and
// part, a workgroup of dotWG threads per output of the part's rows and
// every slot. Expert 0's dispatches zero the rows of slots whose id is
// out of range, part by part.
func (b *Backend) expertDot(base expertParams, out, x *tensor, wts []*tensor, ids, flag *tensor) error {
	for e, wt := range wts {
		for i, part := range expertParts(wt, wt.shape[0]) {
			p := partParams(base, e, i, part)
			if e == 0 {
				p.First = 1
			}
			outputs := int(p.Slots) * part.rows
			if outputs == 0 {
				continue
			}
			if err := b.dispatch("moe.wgsl", "expert_dot", &p, b.groups1D(outputs*dotWG, dotWG), out, x, part.t, ids, flag); err != nil {
				return fmt.Errorf("expert %d part %d: %w", e, i, err)
			}
		}
	}
	return nil
}

// expertTiled runs moe.wgsl's expert_route once, listing each expert's
// slots in a scratch buffer (pooled: freed once queued, reused by later
// calls), then entry (expert_tiled or expert_large, whose square output
// tile is tile) per expert and part over a grid of output tiles × the
// worst case of slot tiles, whose workgroups past the expert's count
// return at once. In the backward a later part adds its K range's terms to
// the first's.
func (b *Backend) expertTiled(base expertParams, out, x *tensor, wts []*tensor, ids, flag *tensor, entry string, tile int) error {
	route, err := b.alloc("ExpertLinear route", backend.I32, 3*len(wts)+int(base.Slots))
	if err != nil {
		return err
	}
	defer b.Free(route)
	// expert_route binds x and the first weight part unread, as moe.wgsl
	// numbers its bindings for every entry point alike.
	w0 := expertParts(wts[0], wts[0].shape[0])[0].t
	if err := b.dispatch("moe.wgsl", "expert_route", &base, [3]uint32{1, 1, 1}, out, x, w0, ids, flag, route); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	lim := int(b.dev.Limits().MaxWorkgroupsPerDimension)
	gy := (int(base.Slots) + tile - 1) / tile
	for e, wt := range wts {
		for i, part := range expertParts(wt, wt.shape[0]) {
			p := partParams(base, e, i, part)
			ncols := part.rows
			if base.Backward == 1 {
				ncols = int(base.Cols)
			}
			gx := (ncols + tile - 1) / tile
			if gx == 0 {
				continue
			}
			if gx > lim || gy > lim {
				return fmt.Errorf("expert %d part %d: %d×%d workgroups, over the device limit %d (maxComputeWorkgroupsPerDimension)", e, i, gx, gy, lim)
			}
			if err := b.dispatch("moe.wgsl", entry, &p, [3]uint32{uint32(gx), uint32(gy), 1}, out, x, part.t, route); err != nil {
				return fmt.Errorf("expert %d part %d: %w", e, i, err)
			}
		}
	}
	return nil
}
