package conformance

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// layoutCases move data without arithmetic: permute, narrow, concat, gather,
// scatter and the grouped-query head repeats.
func layoutCases() []opCase {
	var cs []opCase
	for _, v := range []struct {
		shape, perm []int
	}{
		{[]int{3, 7}, []int{1, 0}},
		{[]int{7, 1029}, []int{1, 0}},
		{[]int{3, 33, 5}, []int{2, 0, 1}},
		{[]int{2, 3, 5, 7}, []int{0, 2, 1, 3}}, // [B, T, H, D] ↔ [B, H, T, D]
		{[]int{1, 33, 1, 7}, []int{3, 1, 0, 2}},
		{[]int{2, 3, 7, 129}, []int{0, 1, 3, 2}}, // keys transposed
		{[]int{1}, []int{0}},
	} {
		cs = append(cs, opCase{op: "Permute", shape: fmt.Sprintf("%v perm %v", v.shape, v.perm), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.shape...)
			want, err := ref.Permute(xr, v.perm...)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Permute(in[x], v.perm...))
			}, want), err
		}})
	}
	for _, v := range []struct {
		shape              []int
		dim, start, length int
	}{
		{[]int{7, 33}, 0, 2, 3},
		{[]int{3, 1029}, 1, 7, 1000},
		{[]int{2, 3, 5, 7}, 2, 4, 1},
		{[]int{2, 3, 5, 7}, 3, 0, 7},
		{[]int{1, 1}, 0, 0, 1},
	} {
		cs = append(cs, opCase{op: "Narrow", shape: fmt.Sprintf("%v dim %d [%d:%d]", v.shape, v.dim, v.start, v.start+v.length), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.shape...)
			want, err := ref.Narrow(xr, v.dim, v.start, v.length)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Narrow(in[x], v.dim, v.start, v.length))
			}, want), err
		}})
	}
	for _, v := range []struct {
		dst, src   []int
		dim, start int
	}{
		{[]int{2, 3, 9, 7}, []int{2, 3, 3, 7}, 2, 4}, // a KV cache block
		{[]int{1029, 3}, []int{29, 3}, 0, 1000},
		{[]int{3, 33}, []int{3, 33}, 1, 0},
		{[]int{1, 1}, []int{1, 1}, 0, 0},
	} {
		cs = append(cs, opCase{op: "NarrowAssign", shape: fmt.Sprintf("%v into %v dim %d at %d", v.src, v.dst, v.dim, v.start), build: func(g *gen) (*spec, error) {
			dst, dr := g.normal(0, 1, v.dst...)
			src, sr := g.normal(0, 1, v.src...)
			want, err := ref.NarrowAssign(dr, v.dim, v.start, sr)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				if err := b.NarrowAssign(in[dst], v.dim, v.start, in[src]); err != nil {
					return nil, err
				}
				return in[dst : dst+1], nil
			}, want), err
		}})
	}
	for _, v := range []struct {
		dim    int
		shapes [][]int
	}{
		{0, [][]int{{1, 7}, {3, 7}, {33, 7}}},
		{1, [][]int{{3, 1}, {3, 1029}}},
		{2, [][]int{{2, 3, 5, 7}, {2, 3, 1, 7}}}, // appending to a KV cache
		{3, [][]int{{2, 1, 3, 4}, {2, 1, 3, 3}, {2, 1, 3, 1}}},
		{0, [][]int{{1}}},
	} {
		cs = append(cs, opCase{op: "Concat", shape: fmt.Sprintf("dim %d of %v", v.dim, v.shapes), build: func(g *gen) (*spec, error) {
			idx := make([]int, len(v.shapes))
			refs := make([]ref.T, len(v.shapes))
			for i, s := range v.shapes {
				idx[i], refs[i] = g.normal(0, 1, s...)
			}
			want, err := ref.Concat(v.dim, refs...)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				xs := make([]backend.Tensor, len(idx))
				for i, j := range idx {
					xs[i] = in[j]
				}
				return one(b.Concat(v.dim, xs...))
			}, want), err
		}})
	}
	for _, v := range []struct {
		dtype backend.DType
		v, d  int
		n     int
	}{
		{backend.F32, 33, 7, 5},
		{backend.F16, 1029, 33, 7},
		{backend.BF16, 129, 1, 1},
		{backend.F32, 7, 3, 1029},
	} {
		cs = append(cs, opCase{op: "Gather", shape: fmt.Sprintf("%v table [%d %d] by %d ids", v.dtype, v.v, v.d, v.n), build: func(g *gen) (*spec, error) {
			t, tr := g.weight(v.dtype, 1, v.v, v.d)
			ids := g.ints(v.n, v.v)
			ids[0] = v.v - 1 // the last row
			id := g.i32(ids, v.n)
			want, err := ref.Gather(tr, ids)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Gather(in[t], in[id]))
			}, want), err
		}})
	}
	for _, v := range []struct{ rows, n, d int }{
		{33, 7, 5},
		{1029, 129, 3},
		{1, 3, 7}, // every id 0: three rows add up
		{7, 1029, 2},
	} {
		cs = append(cs, opCase{op: "ScatterAddRows", shape: fmt.Sprintf("%d rows ← [%d %d]", v.rows, v.n, v.d), k: max(1, v.n/v.rows), build: func(g *gen) (*spec, error) {
			ids := g.ints(v.n, v.rows)
			if v.n > 2 {
				ids[1] = ids[0] // a repeated id must accumulate
			}
			id := g.i32(ids, v.n)
			src, sr := g.normal(0, 1, v.n, v.d)
			want, err := ref.ScatterAddRows(v.rows, ids, sr)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.ScatterAddRows(v.rows, in[id], in[src]))
			}, want), err
		}})
	}
	for _, v := range []struct {
		shape []int
		n     int
	}{
		{[]int{1, 1, 1, 1}, 1},
		{[]int{2, 3, 7, 5}, 2},
		{[]int{1, 2, 33, 129}, 3},
		{[]int{1, 1, 1029, 3}, 4},
	} {
		cs = append(cs, opCase{op: "RepeatKV", shape: fmt.Sprintf("%v n %d", v.shape, v.n), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.shape...)
			want, err := ref.RepeatKV(xr, v.n)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.RepeatKV(in[x], v.n))
			}, want), err
		}})
		full := []int{v.shape[0], v.shape[1] * v.n, v.shape[2], v.shape[3]}
		cs = append(cs, opCase{op: "SumKV", shape: fmt.Sprintf("%v n %d", full, v.n), k: v.n, build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, full...)
			want, err := ref.SumKV(xr, v.n)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.SumKV(in[x], v.n))
			}, want), err
		}})
	}
	return cs
}
