package conformance

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// softmaxVariant is one Softmax case.
type softmaxVariant struct {
	shape  []int // [B, H, Tq, Tk]
	scale  float32
	causal bool
	window int // sliding window (0: none)
	// mask: "" none, "some" masks a few keys per batch, "all" masks every
	// key of the last batch element (its rows become uniform).
	mask string
	// bias: "" none, "shared" [H, Tq, Tk], "full" [B, H, Tq, Tk].
	bias string
}

func (v softmaxVariant) String() string {
	s := fmt.Sprintf("%v scale %g", v.shape, v.scale)
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

// attentionCases cover Softmax with every masking and bias option, its
// backward, and Rope forward and inverse with shared and per-batch
// positions and partial rotation.
func attentionCases() []opCase {
	var cs []opCase
	for _, v := range []softmaxVariant{
		{shape: []int{1, 1, 1, 1}, scale: 1},
		{shape: []int{1, 2, 3, 7}, scale: 0.5},
		{shape: []int{2, 3, 7, 7}, scale: 0.125, causal: true},
		{shape: []int{2, 2, 3, 9}, scale: 1, causal: true},   // a query block after 6 cached keys
		{shape: []int{1, 1, 3, 2}, scale: 1, causal: true},   // Tq > Tk: the first row sees no key
		{shape: []int{2, 1, 5, 33}, scale: 0.3, mask: "all"}, // uniform rows
		{shape: []int{3, 2, 4, 33}, scale: 0.3, causal: true, mask: "some"},
		{shape: []int{1, 3, 7, 129}, scale: 1, bias: "shared"}, // T5's relative bias
		{shape: []int{2, 2, 3, 7}, scale: 0.7, causal: true, mask: "some", bias: "full"},
		{shape: []int{1, 1, 2, 1029}, scale: 0},                         // 0 means 1
		{shape: []int{2, 3, 9, 9}, scale: 0.5, causal: true, window: 3}, // Mistral's sliding window
		{shape: []int{2, 2, 3, 11}, scale: 1, causal: true, window: 4},  // continuing a KV cache
		{shape: []int{3, 2, 6, 6}, scale: 0.3, causal: true, window: 2, mask: "some"},
		{shape: []int{1, 2, 4, 300}, scale: 1, causal: true, window: 257},          // a window over more than one workgroup stride
		{shape: []int{2, 1, 5, 5}, scale: 1, causal: true, window: 9, mask: "all"}, // window ≥ Tk, uniform rows
	} {
		tk := v.shape[3]
		cs = append(cs, opCase{op: "Softmax", shape: v.String(), k: tk, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 3, v.shape...)
			ro, slot := softmaxInputs(g, v)
			want, err := ref.Softmax(xr, ro)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				o := backend.SoftmaxOptions{Scale: v.scale, Causal: v.causal, Window: v.window, KeyMask: pick(in, slot[0]), Bias: pick(in, slot[1])}
				return one(b.Softmax(in[x], o))
			}, want), err
		}})
	}
	for _, v := range []softmaxVariant{
		{shape: []int{1, 1, 1, 1}, scale: 1},
		{shape: []int{2, 3, 7, 7}, scale: 0.125, causal: true},
		{shape: []int{3, 2, 4, 33}, scale: 0.3, causal: true, mask: "some"},
		{shape: []int{2, 1, 5, 33}, scale: 1, mask: "all"},
		{shape: []int{1, 1, 3, 1029}, scale: 2},
		{shape: []int{2, 2, 7, 7}, scale: 0.5, causal: true, window: 3, mask: "some"},
	} {
		cs = append(cs, opCase{op: "SoftmaxBackward", shape: v.String(), k: v.shape[3], build: func(g *gen) (*spec, error) {
			// y is a real softmax output (masked entries exactly 0),
			// rounded to float32 as the device holds it.
			x := g.values(numel(v.shape), 0, 3)
			xr, err := ref.FromData(x, v.shape...)
			if err != nil {
				return nil, err
			}
			sub := &gen{rng: g.rng}
			ro, _ := softmaxInputs(sub, v)
			y, err := ref.Softmax(xr, ro)
			if err != nil {
				return nil, err
			}
			yi, yr := g.f32(y.Data, v.shape...)
			dy, dyr := g.normal(0, 1, v.shape...)
			want, err := ref.SoftmaxBackward(yr, dyr, float64(v.scale))
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.SoftmaxBackward(in[yi], in[dy], v.scale))
			}, want), err
		}})
	}
	return append(cs, ropeCases()...)
}

// softmaxInputs registers the key mask and bias of v and returns the
// reference options and the inputs' indices (-1 when absent).
func softmaxInputs(g *gen, v softmaxVariant) (ref.SoftmaxOpts, [2]int) {
	b, h, tq, tk := v.shape[0], v.shape[1], v.shape[2], v.shape[3]
	scale := float64(v.scale)
	if scale == 0 {
		scale = 1
	}
	ro := ref.SoftmaxOpts{Scale: scale, Causal: v.causal, Window: v.window}
	slot := [2]int{-1, -1}
	switch v.mask {
	case "some", "all":
		m := make([]float64, b*tk)
		for i := range m {
			m[i] = 1
			if v.mask == "some" && g.rng.IntN(4) == 0 || v.mask == "all" && i >= (b-1)*tk {
				m[i] = 0
			}
		}
		var r ref.T
		slot[0], r = g.f32(m, b, tk)
		ro.KeyMask = &r
	}
	switch v.bias {
	case "shared":
		var r ref.T
		slot[1], r = g.normal(0, 1, h, tq, tk)
		ro.Bias = &r
	case "full":
		var r ref.T
		slot[1], r = g.normal(0, 1, b, h, tq, tk)
		ro.Bias = &r
	}
	return ro, slot
}

// ropeVariant is one Rope case.
type ropeVariant struct {
	shape    []int // [B, H, T, D]
	rotated  int   // R: features rotated (even, ≤ D)
	perBatch bool  // positions [B, T] instead of [T]
	start    int   // first position
	inverse  bool
}

func ropeCases() []opCase {
	var cs []opCase
	for _, v := range []ropeVariant{
		{shape: []int{1, 1, 1, 2}, rotated: 2},
		{shape: []int{2, 3, 7, 8}, rotated: 8, start: 5},
		{shape: []int{2, 2, 5, 16}, rotated: 8, perBatch: true}, // partial rotary: features 8..15 copied
		{shape: []int{1, 2, 3, 7}, rotated: 4, start: 1},        // odd D
		{shape: []int{1, 2, 1029, 4}, rotated: 4},               // positions up to 1028
		{shape: []int{2, 3, 7, 8}, rotated: 8, start: 5, inverse: true},
		{shape: []int{2, 2, 5, 16}, rotated: 8, perBatch: true, inverse: true},
		{shape: []int{1, 1, 1029, 2}, rotated: 2, inverse: true},
	} {
		b, t := v.shape[0], v.shape[2]
		name := fmt.Sprintf("%v R %d", v.shape, v.rotated)
		if v.perBatch {
			name += " positions [B T]"
		}
		if v.inverse {
			name += " inverse"
		}
		// The largest angle is the largest position times inv_freq[0] = 1.
		maxPos := v.start + t + 3*b
		cs = append(cs, opCase{op: "Rope", shape: name, k: maxPos, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.shape...)
			freq := make([]float64, v.rotated/2)
			for i := range freq {
				freq[i] = math.Pow(10000, -2*float64(i)/float64(v.rotated)) // Llama's inv_freq
			}
			fi, fr := g.f32(freq, len(freq))
			pos := make([]int, t)
			for i := range pos {
				pos[i] = v.start + i
			}
			posShape := []int{t}
			if v.perBatch { // left padding: each batch element starts elsewhere
				pos = make([]int, b*t)
				for i := range pos {
					pos[i] = 3*(i/t) + i%t
				}
				posShape = []int{b, t}
			}
			pi := g.i32(pos, posShape...)
			want, err := ref.Rope(xr, fr.Data, pos, v.inverse)
			return g.done(func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Rope(in[x], backend.RopeOptions{InvFreq: in[fi], Positions: in[pi], Inverse: v.inverse}))
			}, want), err
		}})
	}
	return cs
}
