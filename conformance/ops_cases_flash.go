package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// flashVariant is one Attention / AttentionBackward case.
type flashVariant struct {
	b, h, hkv, tq, tk, d int
	scale                float32
	softCap              float32
	// causal, window, mask ("", "some", "all") and bias ("", "shared",
	// "full") as in softmaxVariant.
	causal bool
	window int
	mask   string
	bias   string
}

func (v flashVariant) String() string {
	s := fmt.Sprintf("q [%d %d %d %d] kv [%d %d %d %d] scale %g", v.b, v.h, v.tq, v.d, v.b, v.hkv, v.tk, v.d, v.scale)
	if v.softCap > 0 {
		s += fmt.Sprintf(" softcap %g", v.softCap)
	}
	if v.causal {
		s += " causal"
	}
	if v.window > 0 {
		s += fmt.Sprintf(" window %d", v.window)
	}
	if v.mask != "" {
		s += " mask " + v.mask
	}
	if v.bias != "" {
		s += " bias " + v.bias
	}
	return s
}

// softmax returns the softmax variant of v's scores, for softmaxInputs.
func (v flashVariant) softmax() softmaxVariant {
	return softmaxVariant{shape: []int{v.b, v.h, v.tq, v.tk}, scale: v.scale, causal: v.causal,
		window: v.window, mask: v.mask, bias: v.bias}
}

// emptyRows reports whether some query row of v has every key masked;
// its lse is the sentinel AttentionMaskedLSE, which compare cannot weigh
// (it would scale every other row's error by 3.4e38), so such cases
// compare out only; the backward cases check that the sentinel works.
func (v flashVariant) emptyRows() bool {
	return v.mask == "all" || v.causal && v.tq > v.tk
}

// flashVariants are shapes that are not multiples of the kernels' blocks,
// a query block continuing a KV cache (Tq < Tk) and the reverse, grouped
// heads 4:1, 2:1 and 1:1, every mask and bias form, Gemma 2's soft-cap,
// and head dimensions 1 to 256.
var flashVariants = []flashVariant{
	{b: 1, h: 1, hkv: 1, tq: 1, tk: 1, d: 4, scale: 1},
	{b: 2, h: 4, hkv: 1, tq: 7, tk: 7, d: 64, scale: 0.125, causal: true},
	{b: 2, h: 2, hkv: 2, tq: 5, tk: 13, d: 80, scale: 0.11, causal: true, mask: "some"},
	{b: 2, h: 2, hkv: 2, tq: 3, tk: 70, d: 128, scale: 0.09, mask: "all"},
	{b: 2, h: 3, hkv: 3, tq: 9, tk: 9, d: 16, scale: 0.25, causal: true, window: 3, mask: "some"},
	{b: 1, h: 4, hkv: 2, tq: 6, tk: 6, d: 8, scale: 0.35, bias: "shared", softCap: 5},
	{b: 2, h: 2, hkv: 1, tq: 4, tk: 11, d: 32, scale: 0, causal: true, bias: "full"},
	{b: 1, h: 2, hkv: 1, tq: 5, tk: 3, d: 8, scale: 0.35, causal: true},
	{b: 1, h: 8, hkv: 2, tq: 33, tk: 33, d: 64, scale: 0.125, causal: true, window: 20, softCap: 2},
	{b: 1, h: 2, hkv: 2, tq: 70, tk: 131, d: 64, scale: 0.125, causal: true, mask: "some"},
	{b: 1, h: 2, hkv: 1, tq: 3, tk: 17, d: 256, scale: 0.0625, mask: "some"},
	{b: 1, h: 1, hkv: 1, tq: 2, tk: 300, d: 1, scale: 1},
}

// flashCases cover Attention's out and lse and AttentionBackward's dq, dk
// and dv (the backward fed by the device's own forward, so a wrong lse
// shows there too) over flashVariants.
func flashCases() []opCase {
	var cs []opCase
	for _, v := range flashVariants {
		cs = append(cs, opCase{op: "Attention", shape: v.String(), k: max(v.tk, v.d), build: func(g *gen) (*spec, error) {
			q, k, vv, ro, call := flashInputs(g, v)
			out, lse, err := ref.Attention(q, k, vv, ro)
			if v.emptyRows() {
				s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
					out, lse, err := call(b, in)
					if err != nil {
						return nil, err
					}
					b.Free(lse)
					return []backend.Tensor{out}, nil
				}, out)
				s.names = []string{"out"}
				return s, err
			}
			s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				out, lse, err := call(b, in)
				return []backend.Tensor{out, lse}, err
			}, out, lse)
			s.names = []string{"out", "lse"}
			return s, err
		}})
	}
	for _, v := range flashVariants {
		cs = append(cs, opCase{op: "AttentionBackward", shape: v.String(), k: max(v.tk, v.tq*v.h/v.hkv, v.d), build: func(g *gen) (*spec, error) {
			q, k, vv, ro, call := flashInputs(g, v)
			dout, dr := g.normal(0, 1, v.b, v.tq, v.h*v.d)
			dq, dk, dv, err := ref.AttentionBackward(q, k, vv, dr, ro)
			s := g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				out, lse, err := call(b, in)
				if err != nil {
					return nil, err
				}
				defer b.Free(out)
				defer b.Free(lse)
				dq, dk, dv, err := b.AttentionBackward(in[0], in[1], in[2], out, lse, in[dout], flashOptions(v, in))
				return []backend.Tensor{dq, dk, dv}, err
			}, dq, dk, dv)
			s.names = []string{"dq", "dk", "dv"}
			return s, err
		}})
	}
	return cs
}

// flashInputs registers q, k, v (inputs 0, 1, 2), then the key mask and
// bias, and returns their references, the reference options and the
// forward call on a device.
func flashInputs(g *gen, v flashVariant) (q, k, vv ref.T, o ref.AttentionOpts, call func(backend.Backend, []backend.Tensor) (backend.Tensor, backend.Tensor, error)) {
	_, q = g.normal(0, 1, v.b, v.h, v.tq, v.d)
	_, k = g.normal(0, 1, v.b, v.hkv, v.tk, v.d)
	_, vv = g.normal(0, 1, v.b, v.hkv, v.tk, v.d)
	so, _ := softmaxInputs(g, v.softmax())
	o = ref.AttentionOpts{SoftmaxOpts: so, SoftCap: float64(v.softCap)}
	call = func(b backend.Backend, in []backend.Tensor) (backend.Tensor, backend.Tensor, error) {
		return b.Attention(in[0], in[1], in[2], flashOptions(v, in))
	}
	return q, k, vv, o, call
}

// flashOptions returns v's options over the uploaded inputs (mask and bias
// follow q, k and v, in softmaxInputs' order).
func flashOptions(v flashVariant, in []backend.Tensor) backend.AttentionOptions {
	o := backend.AttentionOptions{SoftmaxOptions: backend.SoftmaxOptions{Scale: v.scale, Causal: v.causal, Window: v.window}, SoftCap: v.softCap}
	next := 3
	if v.mask != "" {
		o.KeyMask = in[next]
		next++
	}
	if v.bias != "" {
		o.Bias = in[next]
	}
	return o
}
