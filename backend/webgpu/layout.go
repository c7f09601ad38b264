//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

type permuteParams struct {
	N, O1, O2, O3, S0, S1, S2, S3 uint32
}

type narrowParams struct {
	N, Inner, Len, Dim, Start uint32
}

// Permute reorders up to 4 dimensions: out.Shape[i] = x.Shape[perm[i]].
func (b *Backend) Permute(x backend.Tensor, perm ...int) (backend.Tensor, error) {
	t, err := b.f32("Permute", x)
	if err != nil {
		return nil, err
	}
	r := len(t.shape)
	if len(perm) != r || r > 4 {
		return nil, fmt.Errorf("webgpu: Permute: perm %v for shape %v: want a permutation of up to 4 dimensions", perm, t.shape)
	}
	seen := make([]bool, r)
	for _, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, fmt.Errorf("webgpu: Permute: %v is not a permutation of %d dimensions", perm, r)
		}
		seen[p] = true
	}
	strides := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		strides[i] = s
		s *= t.shape[i]
	}
	// Pad to 4 dimensions at the front with size 1, stride 0.
	var od, os [4]int
	for i := range 4 {
		od[i] = 1
	}
	outShape := make([]int, r)
	for i, p := range perm {
		outShape[i] = t.shape[p]
		od[4-r+i] = t.shape[p]
		os[4-r+i] = strides[p]
	}
	out, err := b.alloc("Permute", backend.F32, outShape...)
	if err != nil {
		return nil, err
	}
	// With the last dimension kept last and a multiple of 4 long, every
	// other stride is a multiple of it: four consecutive outputs are four
	// consecutive, aligned inputs, so the vec4 entry applies in vec4 units.
	entry, w := "permute", 1
	if r > 0 && perm[r-1] == r-1 && od[3]%4 == 0 {
		entry, w = "permute4", 4
		od[3] /= 4
		for i := range 3 {
			os[i] /= 4
		}
	}
	pp := &permuteParams{
		N:  uint32(t.n / w),
		O1: uint32(od[1]), O2: uint32(od[2]), O3: uint32(max(od[3], 1)),
		S0: uint32(os[0]), S1: uint32(os[1]), S2: uint32(os[2]), S3: uint32(os[3]),
	}
	if err := b.dispatch("layout.wgsl", entry, pp, b.groups1D(t.n/w, wg1D), out, t); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: Permute %v by %v: %w", t.shape, perm, err)
	}
	return out, nil
}

// sliceGeometry returns the product of the dimensions before and after dim.
func sliceGeometry(shape []int, dim int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < dim:
			outer *= d
		case i > dim:
			inner *= d
		}
	}
	return outer, inner
}

// sliceEntry returns the vec4 variant of a slice copy entry and 4 when the
// elements after the sliced dimension number a multiple of 4 (then every
// slice row starts at a multiple of 4 in both tensors), else entry and 1.
func sliceEntry(entry string, inner int) (string, int) {
	if inner > 0 && inner%4 == 0 {
		return entry + "4", 4
	}
	return entry, 1
}

// Narrow copies x[..., start:start+length, ...] along dim.
func (b *Backend) Narrow(x backend.Tensor, dim, start, length int) (backend.Tensor, error) {
	if st := b.asSplit(x); st != nil {
		return b.narrowSplit(st, dim, start, length)
	}
	t, err := b.f32("Narrow", x)
	if err != nil {
		return nil, err
	}
	if dim < 0 || dim >= len(t.shape) || start < 0 || length < 0 || start+length > t.shape[dim] {
		return nil, fmt.Errorf("webgpu: Narrow: [%d:%d] along dim %d is outside shape %v", start, start+length, dim, t.shape)
	}
	shape := append([]int(nil), t.shape...)
	shape[dim] = length
	out, err := b.alloc("Narrow", backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	_, inner := sliceGeometry(t.shape, dim)
	entry, w := sliceEntry("narrow", inner)
	p := &narrowParams{N: uint32(out.n / w), Inner: uint32(max(inner/w, 1)), Len: uint32(max(length, 1)), Dim: uint32(t.shape[dim]), Start: uint32(start)}
	if err := b.dispatch("layout.wgsl", entry, p, b.groups1D(out.n/w, wg1D), out, t); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: Narrow %v dim %d [%d:%d]: %w", t.shape, dim, start, start+length, err)
	}
	return out, nil
}

// NarrowAssign writes src into dst[..., start:start+src.Shape[dim], ...]
// along dim, in place.
func (b *Backend) NarrowAssign(dst backend.Tensor, dim, start int, src backend.Tensor) error {
	d, err := b.f32("NarrowAssign", dst)
	if err != nil {
		return err
	}
	s, err := b.f32("NarrowAssign", src)
	if err != nil {
		return err
	}
	if len(s.shape) != len(d.shape) || dim < 0 || dim >= len(d.shape) || start < 0 || start+s.shape[dim] > d.shape[dim] {
		return fmt.Errorf("webgpu: NarrowAssign: src %v at %d along dim %d does not fit dst %v", s.shape, start, dim, d.shape)
	}
	for i := range d.shape {
		if i != dim && d.shape[i] != s.shape[i] {
			return fmt.Errorf("webgpu: NarrowAssign: src %v and dst %v differ outside dim %d", s.shape, d.shape, dim)
		}
	}
	return b.assign("NarrowAssign", d, dim, start, s)
}

// assign queues the copy of src into d at start along dim.
func (b *Backend) assign(op string, d *tensor, dim, start int, s *tensor) error {
	if s.n == 0 {
		return nil
	}
	_, inner := sliceGeometry(d.shape, dim)
	entry, w := sliceEntry("narrow_assign", inner)
	p := &narrowParams{N: uint32(s.n / w), Inner: uint32(inner / w), Len: uint32(s.shape[dim]), Dim: uint32(d.shape[dim]), Start: uint32(start)}
	if err := b.dispatch("layout.wgsl", entry, p, b.groups1D(s.n/w, wg1D), d, s); err != nil {
		return fmt.Errorf("webgpu: %s %v into %v dim %d at %d: %w", op, s.shape, d.shape, dim, start, err)
	}
	return nil
}

// Concat joins tensors along dim.
func (b *Backend) Concat(dim int, xs ...backend.Tensor) (backend.Tensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("webgpu: Concat: no tensors")
	}
	ts := make([]*tensor, len(xs))
	total := 0
	for i, x := range xs {
		t, err := b.f32("Concat", x)
		if err != nil {
			return nil, fmt.Errorf("%w (tensor %d)", err, i)
		}
		ts[i] = t
		if dim < 0 || dim >= len(t.shape) || len(t.shape) != len(ts[0].shape) {
			return nil, fmt.Errorf("webgpu: Concat: tensor %d %v cannot join tensor 0 %v along dim %d", i, t.shape, ts[0].shape, dim)
		}
		for j := range t.shape {
			if j != dim && t.shape[j] != ts[0].shape[j] {
				return nil, fmt.Errorf("webgpu: Concat: tensor %d %v differs from tensor 0 %v outside dim %d", i, t.shape, ts[0].shape, dim)
			}
		}
		total += t.shape[dim]
	}
	shape := append([]int(nil), ts[0].shape...)
	shape[dim] = total
	out, err := b.alloc("Concat", backend.F32, shape...)
	if err != nil {
		return nil, err
	}
	at := 0
	for _, t := range ts {
		if err := b.assign("Concat", out, dim, at, t); err != nil {
			b.Free(out)
			return nil, err
		}
		at += t.shape[dim]
	}
	return out, nil
}
