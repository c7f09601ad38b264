//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/shaders"
)

// attnParams mirrors AttnParams in shaders/attention.wgsl and
// shaders/attention_backward.wgsl.
type attnParams struct {
	B, H, Hkv, Tq, Tk, D uint32
	Scale, SoftCap       float32
	Flags, Window        uint32
	Tile                 uint32 // rows of a workgroup-memory tile
	Blocks               uint32 // query blocks per (batch, head)
	KVBlocks             uint32 // key blocks per (batch, key head)
	MaskOff              uint32 // offset of the key mask in the backward's stats
	Pad0, Pad1           uint32
}

const (
	// attnWG is the threads of an attention workgroup: one query (or
	// key) row each.
	attnWG = 64
	// attnTileFloats and attnBackTileFloats are the workgroup-memory tiles
	// of the forward and the backward kernels (AT_TILE_FLOATS,
	// AB_TILE_FLOATS): two tiles of rows of D floats each.
	attnTileFloats     = 4096
	attnBackTileFloats = 3840
)

// attnArgs resolves an attention call's tensors and parameters. The
// returned mask and bias are placeholders when absent.
func (b *Backend) attnArgs(op string, qt, kt, vt backend.Tensor, o backend.AttentionOptions) (q, k, v, mask, bias *tensor, p attnParams, err error) {
	if q, err = b.tensorOf(op, qt); err != nil {
		return
	}
	if k, err = b.tensorOf(op, kt); err != nil {
		return
	}
	if v, err = b.tensorOf(op, vt); err != nil {
		return
	}
	if len(q.shape) != 4 || len(k.shape) != 4 || q.shape[3] > backend.MaxAttentionHeadDim {
		err = fmt.Errorf("webgpu: %s: q %v, k %v: want [B, H, Tq, D] and [B, Hkv, Tk, D], D ≤ %d", op, q.shape, k.shape, backend.MaxAttentionHeadDim)
		return
	}
	if o.Window < 0 {
		err = fmt.Errorf("webgpu: %s: window %d is negative", op, o.Window)
		return
	}
	p = attnParams{
		B: uint32(q.shape[0]), H: uint32(q.shape[1]), Hkv: uint32(k.shape[1]),
		Tq: uint32(q.shape[2]), Tk: uint32(k.shape[2]), D: uint32(q.shape[3]),
		Scale: o.Scale, SoftCap: o.SoftCap, Window: uint32(min(o.Window, 1<<31-1)),
	}
	if p.Scale == 0 {
		p.Scale = 1
	}
	if o.Causal {
		p.Flags |= smCausal
	}
	var has bool
	if mask, has, err = b.optional(op, "KeyMask", o.KeyMask, 0); err != nil {
		return
	}
	if has {
		p.Flags |= smKeyMask
	}
	if bias, has, err = b.optional(op, "Bias", o.Bias, 1); err != nil {
		return
	}
	if has {
		p.Flags |= smBias
		if len(bias.shape) == 4 {
			p.Flags |= smBiasPerBatch
		}
	}
	p.Blocks = (p.Tq + attnWG - 1) / attnWG
	p.KVBlocks = (p.Tk + attnWG - 1) / attnWG
	return
}

// attnMaxD returns the head-dimension bucket a kernel is built for: the
// kernels keep D-float rows in per-thread arrays of that many floats, and
// Mesa's llvmpipe OpenGL compiler takes minutes over arrays of 256 that
// it compiles in well under a second at 64 (docs/attention.md).
func attnMaxD(d uint32) int {
	if d <= 64 {
		return 64
	}
	return backend.MaxAttentionHeadDim
}

// attnDispatch dispatches entry of file built for head dimensions up to
// maxD: the file's "_MAXD: u32 = 256u" constant is rewritten.
func (b *Backend) attnDispatch(file, entry string, maxD int, p *attnParams, groups [3]uint32, bufs ...*tensor) error {
	source := func() (string, error) {
		src, err := shaders.Source(file)
		if err != nil {
			return "", err
		}
		const decl = "_MAXD: u32 = 256u;"
		if !strings.Contains(src, decl) {
			return "", fmt.Errorf("%s declares no %q", file, decl)
		}
		return strings.Replace(src, decl, fmt.Sprintf("_MAXD: u32 = %du;", maxD), 1), nil
	}
	return b.dispatchSource(fmt.Sprintf("%s#d%d", file, maxD), source, entry, p, groups, bufs...)
}

// attnTile is the rows of D floats two of which fit a tile of floats,
// at most attnWG.
func attnTile(floats int, d uint32) uint32 {
	return uint32(min(attnWG, floats/(2*max(int(d), 1))))
}

// Attention is fused scaled-dot-product attention (backend.Backend): one
// dispatch of attention.wgsl, a workgroup per (batch, head, 64 queries),
// keys and values streamed through workgroup memory with an online
// softmax; no [B, H, Tq, Tk] tensor is allocated.
func (b *Backend) Attention(qt, kt, vt backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, error) {
	const op = "Attention"
	q, k, v, mask, bias, p, err := b.attnArgs(op, qt, kt, vt, o)
	if err != nil {
		return nil, nil, err
	}
	out, err := b.alloc(op, backend.F32, q.shape[0], q.shape[2], q.shape[1]*q.shape[3])
	if err != nil {
		return nil, nil, err
	}
	lse, err := b.alloc(op, backend.F32, q.shape[0], q.shape[1], q.shape[2])
	if err != nil {
		b.Free(out)
		return nil, nil, err
	}
	if p.B*p.H*p.Tq == 0 || p.D == 0 {
		return out, lse, nil
	}
	if p.Tk == 0 {
		b.Free(out)
		b.Free(lse)
		return nil, nil, fmt.Errorf("webgpu: %s: k %v has no keys", op, k.shape)
	}
	p.Tile = attnTile(attnTileFloats, p.D)
	groups := b.groups1D(int(p.B*p.H*p.Blocks)*attnWG, attnWG)
	if err := b.attnDispatch("attention.wgsl", "attention", attnMaxD(p.D), &p, groups, out, lse, q, k, v, mask, bias); err != nil {
		b.Free(out)
		b.Free(lse)
		return nil, nil, fmt.Errorf("webgpu: %s q %v k %v: %w", op, q.shape, k.shape, err)
	}
	return out, lse, nil
}

// AttentionBackward returns dq, dk and dv of Attention (backend.Backend)
// in three dispatches of attention_backward.wgsl: the per-row statistics
// (lse, rowsum(dO ⊙ O), the key mask), dq by query blocks, and dk, dv by
// key blocks (no float atomics in WGSL: each thread owns its rows).
func (b *Backend) AttentionBackward(qt, kt, vt, outt, lset, doutt backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, backend.Tensor, error) {
	const op = "AttentionBackward"
	q, k, v, mask, bias, p, err := b.attnArgs(op, qt, kt, vt, o)
	if err != nil {
		return nil, nil, nil, err
	}
	var out, lse, dout *tensor
	for _, a := range []struct {
		t  backend.Tensor
		to **tensor
	}{{outt, &out}, {lset, &lse}, {doutt, &dout}} {
		if *a.to, err = b.tensorOf(op, a.t); err != nil {
			return nil, nil, nil, err
		}
	}
	var made []*tensor
	fail := func(err error) (backend.Tensor, backend.Tensor, backend.Tensor, error) {
		for _, t := range made {
			b.Free(t)
		}
		return nil, nil, nil, fmt.Errorf("webgpu: %s q %v k %v: %w", op, q.shape, k.shape, err)
	}
	rows := p.B * p.H * p.Tq
	alloc := b.alloc
	if rows == 0 || p.D == 0 || p.Tk == 0 {
		// Nothing to attend: the gradients are zeros.
		alloc = b.zeros
	}
	var dq, dk, dv *tensor
	for _, a := range []struct {
		to    **tensor
		shape []int
	}{{&dq, q.shape}, {&dk, k.shape}, {&dv, v.shape}} {
		t, err := alloc(op, backend.F32, a.shape...)
		if err != nil {
			return fail(err)
		}
		*a.to = t
		made = append(made, t)
	}
	if rows == 0 || p.D == 0 || p.Tk == 0 {
		return dq, dk, dv, nil
	}
	statsLen := 2 * int(rows)
	if p.Flags&smKeyMask != 0 {
		statsLen += int(p.B * p.Tk)
	}
	stats, err := b.alloc(op, backend.F32, statsLen)
	if err != nil {
		return fail(err)
	}
	defer b.Free(stats)
	p.MaskOff = 2 * rows
	const file = "attention_backward.wgsl"
	if err := b.dispatch(file, "attn_stats", &p, b.groups1D(statsLen-int(rows), attnWG), stats, lse, out, dout, mask); err != nil {
		return fail(err)
	}
	p.Tile = attnTile(attnBackTileFloats, p.D)
	if err := b.attnDispatch(file, "attn_dq", attnMaxD(p.D), &p, b.groups1D(int(p.B*p.H*p.Blocks)*attnWG, attnWG), dq, q, k, v, dout, stats, bias); err != nil {
		return fail(err)
	}
	if err := b.attnDispatch(file, "attn_dkv", attnMaxD(p.D), &p, b.groups1D(int(p.B*p.Hkv*p.KVBlocks)*attnWG, attnWG), dk, q, k, v, dout, stats, bias, dv); err != nil {
		return fail(err)
	}
	return dq, dk, dv, nil
}
