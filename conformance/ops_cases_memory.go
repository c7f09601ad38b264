package conformance

import (
	"encoding/binary"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

// memoryCases upload and download every dtype, allocate zeros, view and copy.
func memoryCases() []opCase {
	var cs []opCase
	for _, shape := range [][]int{{}, {1}, {3, 7}, {1029}} {
		cs = append(cs, opCase{op: "FromFloat32", shape: shapeStr(shape), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, shape...)
			return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return in[x : x+1], nil
			}, xr), nil
		}})
	}
	for _, shape := range [][]int{{1}, {33, 3}} {
		cs = append(cs, opCase{op: "FromInt32", shape: shapeStr(shape), build: func(g *gen) (*spec, error) {
			n := numel(shape)
			vals := make([]int, n)
			for i := range vals {
				vals[i] = int(g.rng.Int32()) - math.MaxInt32/2
			}
			vals[0] = math.MinInt32
			if n > 1 {
				vals[n-1] = math.MaxInt32
			}
			x := g.i32(vals, shape...)
			return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return in[x : x+1], nil
			}, intsRef(vals, shape...)), nil
		}})
	}
	cs = append(cs,
		fromBytesHalf(backend.F16, []int{1029}),
		fromBytesHalf(backend.BF16, []int{3, 129}),
		fromBytesHalf(backend.F16, []int{1}),
		opCase{op: "FromBytes", shape: "F32 [7 33]", build: func(g *gen) (*spec, error) {
			vals := g.values(7*33, 0, 1)
			raw := make([]byte, 4*len(vals))
			for i, v := range vals {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
			}
			g.inputs = append(g.inputs, input{dtype: backend.F32, shape: []int{7, 33}, raw: raw})
			return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return in[:1], nil
			}, ref.T{Shape: []int{7, 33}, Data: vals}), nil
		}},
		opCase{op: "FromBytes", shape: "I32 [129]", build: func(g *gen) (*spec, error) {
			vals := make([]int, 129)
			raw := make([]byte, 4*len(vals))
			for i := range vals {
				vals[i] = int(g.rng.Int32()) - math.MaxInt32/2
				binary.LittleEndian.PutUint32(raw[4*i:], uint32(int32(vals[i])))
			}
			g.inputs = append(g.inputs, input{dtype: backend.I32, shape: []int{129}, raw: raw})
			return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return in[:1], nil
			}, intsRef(vals, 129)), nil
		}},
	)
	for _, shape := range [][]int{{1}, {33, 129}, {3, 7, 1029}} {
		cs = append(cs, opCase{op: "Zeros", shape: shapeStr(shape), build: func(g *gen) (*spec, error) {
			return g.done(func(b backend.Backend, _ []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Zeros(shape...))
			}, ref.New(shape...)), nil
		}})
	}
	for _, v := range []struct{ from, to []int }{
		{[]int{3, 7, 33}, []int{21, 33}},
		{[]int{1029}, []int{3, 343}},
		{[]int{1}, []int{}},
	} {
		cs = append(cs, opCase{op: "View", shape: shapeStr(v.from) + "→" + shapeStr(v.to), build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, v.from...)
			want := xr.Clone()
			want.Shape = append([]int(nil), v.to...)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.View(in[x], v.to...))
			}, want), nil
		}})
	}
	cs = append(cs,
		opCase{op: "View", shape: "[3 7]→[21] sees a later write to its source", build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, 3, 7)
			src, sr := g.normal(0, 1, 1, 7)
			want, err := ref.NarrowAssign(xr, 0, 1, sr)
			want.Shape = []int{21}
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				v, err := b.View(in[x], 21)
				if err != nil {
					return nil, err
				}
				return []backend.Tensor{v}, b.NarrowAssign(in[x], 0, 1, in[src])
			}, want), err
		}},
		opCase{op: "Copy", shape: "[33 7] unchanged by a later write to its source", build: func(g *gen) (*spec, error) {
			x, xr := g.normal(0, 1, 33, 7)
			src, _ := g.normal(0, 1, 33, 7)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				c, err := b.Copy(in[x])
				if err != nil {
					return nil, err
				}
				return []backend.Tensor{c}, b.NarrowAssign(in[x], 0, 0, in[src])
			}, xr), nil
		}},
	)
	for _, v := range []struct {
		dtype backend.DType
		shape []int
	}{{backend.F32, []int{1029}}, {backend.F16, []int{3, 129}}, {backend.BF16, []int{33, 7}}, {backend.F32, []int{1}}} {
		cs = append(cs, opCase{op: "Copy", shape: v.dtype.String() + " " + shapeStr(v.shape), build: func(g *gen) (*spec, error) {
			x, xr := g.weight(v.dtype, 1, v.shape...)
			return g.done(func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(b.Copy(in[x]))
			}, xr), nil
		}})
	}
	return cs
}

// fromBytesHalf uploads F16 or BF16 bits that include zeros of both signs,
// subnormals, the largest finite values, infinities and NaN, then random
// normal values, and downloads them widened to F32.
func fromBytesHalf(dtype backend.DType, shape []int) opCase {
	return opCase{op: "FromBytes", shape: dtype.String() + " " + shapeStr(shape) + " incl. specials", build: func(g *gen) (*spec, error) {
		specials := []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x3c00}
		if dtype == backend.BF16 {
			specials = []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0x3f80}
		}
		bits := make([]uint16, numel(shape))
		for i := range bits {
			if i < len(specials) {
				bits[i] = specials[i]
				continue
			}
			bits[i] = halfBits(dtype, g.rng.NormFloat64())
		}
		x, xr := g.half(dtype, bits, shape...)
		return g.done(func(_ backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
			return in[x : x+1], nil
		}, xr), nil
	}}
}

// intsRef is the reference of an I32 tensor.
func intsRef(vals []int, shape ...int) ref.T {
	d := make([]float64, len(vals))
	for i, v := range vals {
		d[i] = float64(v)
	}
	return ref.T{Shape: append([]int(nil), shape...), Data: d}
}

// numel is the element count of shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
