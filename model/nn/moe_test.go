package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expertIDs are the slots' experts of the tests below: [3 tokens, 2 slots],
// expert 1 unused by token 2, expert 0 twice by token 1.
var expertIDs = []int32{2, 0, 0, 0, 1, 2}

// expertLayers builds three experts [5, 4] from ps, laid out as
// W0 W1 W2 b0 b1 b2 s0 t0 s1 t1 (expert 2 has no adapter).
func expertLayers(ps []*Param) []*Linear {
	ls := make([]*Linear, 3)
	for e := range ls {
		ls[e] = &Linear{Weight: ps[e], Bias: ps[3+e]}
	}
	ls[0].Adapter = &testAdapter{out: ps[6], in: ps[7]}
	ls[1].Adapter = &testAdapter{out: ps[8], in: ps[9]}
	return ls
}

func expertInputs(x input) []input {
	scale := func(name string, n int) input {
		return input{name: name, shape: []int{n}, lo: 0.5, hi: 1.5, trainable: true}
	}
	return []input{x, frozen("W0", 5, 4), frozen("W1", 5, 4), frozen("W2", 5, 4),
		in("b0", 5), in("b1", 5), frozen("b2", 5), scale("s0", 5), scale("t0", 4), scale("s1", 5), scale("t1", 4)}
}

func TestExpertLinearGradients(t *testing.T) {
	b := openCPU(t)
	for _, x := range []input{in("x shared", 3, 4), in("x per slot", 3, 2, 4)} {
		c := gradCase{name: x.name, ins: expertInputs(x), build: func(t *testing.T, g *Graph, ps []*Param) *Value {
			ids := g.Own(uploadInt32(t, g.B, expertIDs, 3, 2))
			return g.ExpertLinear(g.Param(ps[0]), expertLayers(ps[1:]), ids)
		}}
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

// TestExpertLinearMatchesLinear checks every slot's row against Linear
// with that slot's expert, its bias and its adapter's vectors.
func TestExpertLinearMatchesLinear(t *testing.T) {
	b := openCPU(t)
	rng := newRNG()
	ps := make([]*Param, 10)
	for i, in := range expertInputs(input{})[1:] {
		n := 1
		for _, d := range in.shape {
			n *= d
		}
		ps[i] = &Param{Name: in.name, T: upload(t, b, uniform(rng, n, 0.5, 1.5), in.shape...)}
	}
	ls := expertLayers(ps)
	for _, shared := range []bool{true, false} {
		rows := 6
		shape := []int{3, 2, 4}
		if shared {
			rows, shape = 3, []int{3, 4}
		}
		xs := uniform(rng, rows*4, -1, 1)
		g := NewGraph(b, false)
		ids := g.Own(uploadInt32(t, b, expertIDs, 3, 2))
		y := g.ExpertLinear(g.Input(upload(t, b, xs, shape...)), ls, ids)
		require.NoError(t, g.Err())
		assert.Equal(t, []int{3, 2, 5}, y.Shape())
		got := download(t, b, y.T)
		for s, id := range expertIDs {
			r := s
			if shared {
				r = s / 2
			}
			want := g.Linear(g.Input(upload(t, b, xs[r*4:(r+1)*4], 1, 4)), ls[id])
			require.NoError(t, g.Err())
			assert.InDeltaSlice(t, download(t, b, want.T), got[s*5:(s+1)*5], 1e-5, "shared %v slot %d (expert %d)", shared, s, id)
		}
		g.Release()
	}
}

// TestExpertLinearRefusals checks the errors of what the op does not do.
func TestExpertLinearRefusals(t *testing.T) {
	b := openCPU(t)
	w := &Param{Name: "w", T: upload(t, b, make([]float32, 20), 5, 4)}
	trainable := &Param{Name: "expert.w", T: w.T, Trainable: true}
	idx := uploadInt32(t, b, []int32{0, 0, 0}, 3)
	for _, tc := range []struct {
		name string
		ls   []*Linear
		want string
	}{
		{"trainable weight", []*Linear{{Weight: trainable}}, "expert.w is trainable"},
		{"conv1d", []*Linear{{Weight: w, FanInFanOut: true}}, "an (in, out) weight is not supported"},
		{"mixed batch adapter", []*Linear{{Weight: w, Adapter: &testAdapter{out: w, index: idx}}}, "a mixed batch"},
		{"no layers", nil, "0 layers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph(b, true)
			defer g.Release()
			ids := g.Own(uploadInt32(t, b, []int32{0, 0, 0}, 3, 1))
			g.ExpertLinear(g.Input(upload(t, b, make([]float32, 12), 3, 4)), tc.ls, ids)
			assert.ErrorContains(t, g.Err(), tc.want)
		})
	}
}
