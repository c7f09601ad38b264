//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

type scaleParams struct{ Rows, Cols, DT, Flags uint32 }

// Flags of adapter.wgsl's scale kernel.
const (
	scaleInvert = 1
	scaleCols   = 2
)

// ScaleRows returns w [R, C] with row r multiplied by v[r], or divided by
// v[r] + 1e-8 when invert is set. w may be F16/BF16; the result is F32.
func (b *Backend) ScaleRows(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.scale("ScaleRows", w, v, invert, false)
}

// ScaleCols is ScaleRows along columns: v has shape [C].
func (b *Backend) ScaleCols(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.scale("ScaleCols", w, v, invert, true)
}

func (b *Backend) scale(op string, w, v backend.Tensor, invert, cols bool) (backend.Tensor, error) {
	if wt := b.asSplit(w); wt != nil {
		return b.scaleSplit(op, wt, v, invert, cols)
	}
	wt, err := b.tensorOf(op, w)
	if err != nil {
		return nil, err
	}
	vt, err := scaleVector(b, op, wt, v, cols)
	if err != nil {
		return nil, err
	}
	if wt.dtype.IsQuantized() {
		return b.scaleQuantized(op, wt, vt, invert, cols)
	}
	out, err := b.alloc(op, backend.F32, wt.shape...)
	if err != nil {
		return nil, err
	}
	flags := uint32(0)
	if invert {
		flags |= scaleInvert
	}
	if cols {
		flags |= scaleCols
	}
	p := &scaleParams{Rows: uint32(wt.shape[0]), Cols: uint32(wt.shape[1]), DT: dtCode(wt.dtype), Flags: flags}
	if err := b.dispatch("adapter.wgsl", "scale", p, b.groups1D(wt.n, wg1D), out, wt, vt); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s %v: %w", op, wt.shape, err)
	}
	return out, nil
}

// scaleVector checks w of ScaleRows/ScaleCols and returns v, the F32
// vector of its rows (or columns).
func scaleVector(b *Backend, op string, wt *tensor, v backend.Tensor, cols bool) (*tensor, error) {
	vt, err := b.f32(op, v)
	if err != nil {
		return nil, err
	}
	if len(wt.shape) != 2 || !wt.dtype.IsFloat() {
		return nil, fmt.Errorf("webgpu: %s: w %v %s: want a 2-D float tensor", op, wt.shape, wt.dtype)
	}
	want := wt.shape[0]
	if cols {
		want = wt.shape[1]
	}
	if len(vt.shape) != 1 || vt.shape[0] != want {
		return nil, fmt.Errorf("webgpu: %s: v %v does not match w %v (want [%d])", op, vt.shape, wt.shape, want)
	}
	return vt, nil
}
