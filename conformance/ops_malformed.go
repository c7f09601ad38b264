package conformance

import (
	"context"
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
)

// malformedCases are calls every device must refuse with an error, never a
// panic or a driver crash: shape mismatches, wrong dtypes, sizes past the
// device's limits, and tensors that belong to no or another device.
func malformedCases() []opCase {
	type bad struct {
		op, what string
		call     func(g *gen) callFn
	}
	f32 := func(g *gen, shape ...int) int { i, _ := g.normal(0, 1, shape...); return i }
	cases := []bad{
		{"Add", "shape mismatch [2 3] + [4]", func(g *gen) callFn {
			a, b := f32(g, 2, 3), f32(g, 4)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Add(in[a], in[b]))
			}
		}},
		{"MatMul", "inner dimensions [3 4]×[5 6]", func(g *gen) callFn {
			a, b := f32(g, 3, 4), f32(g, 5, 6)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.MatMul(in[a], in[b], backend.MatMulOptions{}))
			}
		}},
		{"Linear", "wrong dtype: I32 x", func(g *gen) callFn {
			x, w := g.i32([]int{1, 2, 3}, 1, 3), f32(g, 2, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Linear(in[x], in[w], backend.LinearOptions{}))
			}
		}},
		{"Gather", "wrong dtype: F32 ids", func(g *gen) callFn {
			t, ids := f32(g, 4, 3), f32(g, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Gather(in[t], in[ids]))
			}
		}},
		{"Gather", "id out of range (may surface at download)", func(g *gen) callFn {
			t, ids := f32(g, 4, 3), g.i32([]int{1, 4}, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				out, err := be.Gather(in[t], in[ids])
				if err != nil {
					return nil, err
				}
				_, err = be.ToFloat32(out)
				return []backend.Tensor{out}, err
			}
		}},
		{"ExpertLinear", "expert id out of range (may surface at download)", func(g *gen) callFn {
			x, w0, w1, ids := f32(g, 2, 3), f32(g, 4, 3), f32(g, 4, 3), g.i32([]int{1, 0, 2, 1}, 2, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				out, err := be.ExpertLinear(in[x], []backend.Tensor{in[w0], in[w1]}, in[ids], backend.ExpertOptions{})
				if err != nil {
					return nil, err
				}
				_, err = be.ToFloat32(out)
				return []backend.Tensor{out}, err
			}
		}},
		{"TopK", "k over the row length", func(g *gen) callFn {
			x := f32(g, 2, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.TopK(in[x], 4))
			}
		}},
		{"CrossEntropy", "labels not I32", func(g *gen) callFn {
			l, y := f32(g, 2, 5), f32(g, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				loss, d, err := be.CrossEntropy(in[l], in[y], -100)
				return []backend.Tensor{loss, d}, err
			}
		}},
		{"View", "element count 6 → 7", func(g *gen) callFn {
			x := f32(g, 2, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) { return one(be.View(in[x], 7)) }
		}},
		{"Narrow", "past the end", func(g *gen) callFn {
			x := f32(g, 3, 5)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Narrow(in[x], 1, 3, 3))
			}
		}},
		{"Permute", "not a permutation", func(g *gen) callFn {
			x := f32(g, 3, 5)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Permute(in[x], 0, 0))
			}
		}},
		{"Concat", "mismatched dimension", func(g *gen) callFn {
			a, b := f32(g, 2, 3), f32(g, 2, 4)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Concat(0, in[a], in[b]))
			}
		}},
		{"ToFloat32", "wrong dtype: an I32 tensor", func(g *gen) callFn {
			x := g.i32([]int{1, 2}, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				_, err := be.ToFloat32(in[x])
				return nil, err
			}
		}},
		{"NarrowAssign", "src wider than dst outside dim", func(g *gen) callFn {
			dst, src := f32(g, 2, 4, 3), f32(g, 2, 1, 4)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return nil, be.NarrowAssign(in[dst], 1, 0, in[src])
			}
		}},
		{"Softmax", "bias shape [2 3 5] for scores [1 2 3 4]", func(g *gen) callFn {
			x, bias := f32(g, 1, 2, 3, 4), f32(g, 2, 3, 5)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Softmax(in[x], backend.SoftmaxOptions{Bias: in[bias]}))
			}
		}},
		{"Rope", "F32 positions", func(g *gen) callFn {
			x, freq, pos := f32(g, 1, 1, 2, 4), f32(g, 2), f32(g, 2)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Rope(in[x], backend.RopeOptions{InvFreq: in[freq], Positions: in[pos]}))
			}
		}},
		{"Linear", "stacked out_scale without scale_index", func(g *gen) callFn {
			x, w, s := f32(g, 2, 3), f32(g, 4, 3), f32(g, 2, 4)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Linear(in[x], in[w], backend.LinearOptions{OutScale: in[s]}))
			}
		}},
		{"AdamW", "moment of another shape", func(g *gen) callFn {
			p, gr, m, v := f32(g, 3), f32(g, 3), f32(g, 4), f32(g, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return nil, be.AdamW(in[p], in[gr], in[m], in[v], backend.AdamWOptions{LR: 0.1, Beta1: 0.9, Beta2: 0.99, Step: 1})
			}
		}},
		{"FromFloat32", "5 values for [2 3]", func(*gen) callFn {
			return func(be backend.Backend, _ []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.FromFloat32(make([]float32, 5), 2, 3))
			}
		}},
		{"Zeros", "negative dimension", func(*gen) callFn {
			return func(be backend.Backend, _ []backend.Tensor) ([]backend.Tensor, error) { return one(be.Zeros(3, -1)) }
		}},
		{"Zeros", "element count overflows", func(*gen) callFn {
			return func(be backend.Backend, _ []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Zeros(1<<31, 1<<31, 1<<31))
			}
		}},
		{"Zeros", "past maxStorageBufferBindingSize (no allocation)", func(*gen) callFn {
			return func(be backend.Backend, _ []backend.Tensor) ([]backend.Tensor, error) {
				limit, ok := be.Info().Limits["maxStorageBufferBindingSize"]
				if !ok {
					// The CPU has no binding limit: the largest tensor
					// the interface allows plus one element must fail.
					return one(be.Zeros(backend.MaxElements + 1))
				}
				n := int(limit/4) + 1
				if n > backend.MaxElements {
					return one(be.Zeros(backend.MaxElements + 1))
				}
				return one(be.Zeros(n))
			}
		}},
		{"Add", "tensor of no backend", func(g *gen) callFn {
			a := f32(g, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				return one(be.Add(in[a], foreignTensor{shape: []int{3}}))
			}
		}},
		{"Add", "tensor of another device", func(g *gen) callFn {
			a := f32(g, 3)
			return func(be backend.Backend, in []backend.Tensor) ([]backend.Tensor, error) {
				other, err := backend.Open(context.Background(), "cpu")
				if err != nil {
					return nil, fmt.Errorf("%w: open a second device: %w", errCannotTest, err)
				}
				defer other.Close()
				t, err := other.FromFloat32([]float32{1, 2, 3}, 3)
				if err != nil {
					return nil, fmt.Errorf("%w: upload to the second device: %w", errCannotTest, err)
				}
				// On the CPU this is a second backend instance: still
				// another backend's tensor, which the contract refuses.
				return one(be.Add(in[a], t))
			}
		}},
	}
	cs := make([]opCase, len(cases))
	for i, c := range cases {
		cs[i] = opCase{op: c.op, shape: "malformed: " + c.what, malformed: true, build: func(g *gen) (*spec, error) {
			call := c.call(g)
			return g.done(call), nil
		}}
	}
	return cs
}

// errCannotTest marks a malformed case that could not set itself up: its
// error is not the device's refusal, so the row fails.
var errCannotTest = errors.New("cannot set the malformed call up")

// foreignTensor is a Tensor no backend created.
type foreignTensor struct{ shape []int }

func (f foreignTensor) Shape() []int         { return f.shape }
func (f foreignTensor) DType() backend.DType { return backend.F32 }
func (f foreignTensor) Len() int             { return numel(f.shape) }
