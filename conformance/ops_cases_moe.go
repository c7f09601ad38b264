package conformance

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// moeCases covers the mixture-of-experts operations: TopK over router
// logits, with ties, NaN and infinite rows, and ExpertLinear forward and
// backward, x shared by a token's slots or one row per slot, on every
// weight dtype (the quantized ones only where the device takes them).
func moeCases() []opCase {
	var cs []opCase
	for _, v := range []struct {
		n, e, k int
		kind    string // "normal", "ties" (few distinct values), "special" (NaN, ±Inf rows)
	}{
		{1, 1, 1, "normal"},
		{7, 8, 2, "normal"},
		{5, 3, 3, "normal"},
		{33, 64, 6, "normal"},
		{1029, 8, 2, "normal"},
		{9, 60, 4, "normal"},
		{40, 8, 3, "ties"},
		{6, 8, 2, "special"},
	} {
		cs = append(cs, opCase{op: "TopK", shape: fmt.Sprintf("[%d %d] k %d %s", v.n, v.e, v.k, v.kind), build: func(g *gen) (*spec, error) {
			vals := g.values(v.n*v.e, 0, 1)
			switch v.kind {
			case "ties":
				for i := range vals {
					vals[i] = float64(g.rng.IntN(3))
				}
			case "special":
				nan, inf := math.NaN(), math.Inf(1)
				copy(vals[0*v.e:], []float64{1, nan, 2})    // a NaN row: its first k
				copy(vals[1*v.e:], []float64{-inf, 0, inf}) // infinities order like numbers
				for i := range v.e {
					vals[2*v.e+i] = math.Inf(-1) // all −Inf: tied
					vals[3*v.e+i] = 0
				}
				vals[3*v.e+5] = math.Copysign(0, -1) // −0 equals +0
				vals[4*v.e+v.e-1] = nan              // NaN in the last column
			}
			x, xr := g.f32(vals, v.n, v.e)
			want, err := ref.TopK(xr, v.k)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.TopK(in[x], v.k))
			}, want), err
		}})
	}
	type expertShape struct{ n, k, e, out, in int }
	for _, v := range []struct {
		dtype    backend.DType
		sh       expertShape
		shared   bool
		backward bool
		unused   bool   // ids name only the first half of the experts
		routing  string // "" random; "one": every slot on the last expert; "perm": k = E, token n's slot j on expert (n + j) mod E
	}{
		{backend.F32, expertShape{1, 1, 1, 1, 1}, true, false, false, ""},
		{backend.F32, expertShape{7, 2, 4, 5, 3}, true, false, false, ""},
		{backend.F32, expertShape{7, 2, 4, 5, 3}, false, true, false, ""},
		{backend.F32, expertShape{33, 2, 8, 24, 16}, false, false, true, ""},
		{backend.F32, expertShape{33, 2, 8, 24, 16}, true, true, false, ""},
		{backend.F16, expertShape{5, 3, 3, 129, 65}, true, false, false, ""},
		{backend.BF16, expertShape{5, 3, 3, 129, 65}, false, true, false, ""},
		{backend.F32, expertShape{9, 4, 6, 7, 300}, false, false, false, ""},
		{backend.Q8_0, expertShape{9, 2, 4, 16, 64}, true, false, false, ""},
		{backend.Q8_0, expertShape{9, 2, 4, 16, 64}, false, true, false, ""},
		{backend.NF4, expertShape{9, 2, 4, 16, 128}, true, false, true, ""},
		{backend.NF4, expertShape{9, 2, 4, 16, 128}, false, true, false, ""},
		// Enough slots (N·k ≥ 32) for the GPU's tiled kernel, with N·k, out
		// and in crossing its 64-slot and 64×16 tiles; one token's forward
		// over long rows for its decode kernel.
		{backend.F32, expertShape{37, 3, 5, 70, 45}, true, false, false, ""},
		{backend.F32, expertShape{37, 3, 5, 70, 45}, false, true, false, ""},
		{backend.F32, expertShape{65, 2, 3, 67, 17}, false, false, false, "one"},
		{backend.F32, expertShape{65, 2, 3, 67, 17}, true, true, false, "one"},
		{backend.F32, expertShape{20, 4, 4, 33, 80}, false, false, false, "perm"},
		{backend.F32, expertShape{20, 4, 4, 33, 80}, false, true, false, "perm"},
		{backend.F32, expertShape{1, 2, 8, 40, 300}, true, false, false, ""},
		{backend.F16, expertShape{40, 2, 4, 65, 33}, false, false, true, ""},
		{backend.BF16, expertShape{40, 2, 4, 65, 33}, true, true, false, ""},
		{backend.Q8_0, expertShape{50, 2, 4, 70, 96}, true, false, false, ""},
		{backend.Q8_0, expertShape{50, 2, 4, 70, 96}, false, true, true, ""},
		{backend.NF4, expertShape{50, 2, 4, 70, 192}, false, false, true, ""},
		{backend.NF4, expertShape{50, 2, 4, 70, 192}, true, true, false, ""},
	} {
		sh := v.sh
		din, dout := sh.in, sh.out
		if v.backward {
			din, dout = dout, din
		}
		x := []int{sh.n, sh.k, din}
		if v.shared {
			x = []int{sh.n, din}
		}
		name := fmt.Sprintf("%v %d experts [%d %d], x %v, ids [%d %d]", v.dtype, sh.e, sh.out, sh.in, x, sh.n, sh.k)
		if v.backward {
			name += " backward"
		}
		if v.routing != "" {
			name += " routing " + v.routing
		}
		c := opCase{op: "ExpertLinear", shape: name, k: din, build: func(g *gen) (*spec, error) {
			xi, xr := g.normal(0, 1, x...)
			wi := make([]int, sh.e)
			wr := make([]ref.T, sh.e)
			for e := range sh.e {
				if v.dtype.IsQuantized() {
					var err error
					if wi[e], wr[e], err = g.quantizedWeight(v.dtype, 1, sh.out, sh.in); err != nil {
						return nil, err
					}
				} else {
					wi[e], wr[e] = g.weight(v.dtype, 1, sh.out, sh.in)
				}
			}
			hi := sh.e
			if v.unused {
				hi = max(1, sh.e/2)
			}
			ids := g.ints(sh.n*sh.k, hi)
			ids[0] = hi - 1
			for i := range ids {
				switch v.routing {
				case "one":
					ids[i] = sh.e - 1
				case "perm":
					ids[i] = (i/sh.k + i%sh.k) % sh.e
				}
			}
			id := g.i32(ids, sh.n, sh.k)
			want, err := ref.ExpertLinear(xr, wr, ids, sh.k, v.backward)
			o := backend.ExpertOptions{Backward: v.backward}
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				ws := make([]backend.Tensor, sh.e)
				for e, i := range wi {
					ws[e] = in[i]
				}
				return one(b.ExpertLinear(in[xi], ws, in[id], o))
			}, want), err
		}}
		if v.dtype.IsQuantized() {
			c.quantized, c.tol = true, "ExpertLinear/quantized"
		}
		cs = append(cs, c)
	}
	return cs
}
