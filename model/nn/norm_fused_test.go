package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// preNormBlock is one pre-norm residual step, as GPT-2 and Llama blocks
// chain them: s = x + f; h = Norm(s); out = s + h ⊙ v, where s (the
// residual stream) reaches the output both through the norm and directly,
// so the norm's backward meets a gradient s already has. fused picks
// AddNorm over Add then Norm.
func preNormBlock(g *Graph, x, f, v *Value, n *Norm, fused bool) *Value {
	var s, h *Value
	if fused {
		s, h = g.AddNorm(x, f, n)
	} else {
		s = g.Add(x, f)
		h = g.Norm(s, n)
	}
	return g.Add(s, g.Mul(h, v))
}

func TestAddNormGradients(t *testing.T) {
	b := openCPU(t)
	block := func(rms, weight, bias bool) func(t *testing.T, g *Graph, ps []*Param) *Value {
		return func(t *testing.T, g *Graph, ps []*Param) *Value {
			n := &Norm{Class: "LayerNorm", Eps: 1e-5, RMS: rms}
			if weight {
				n.Weight = ps[3]
			}
			if bias {
				n.Bias = ps[4]
			}
			return preNormBlock(g, g.Param(ps[0]), g.Param(ps[1]), g.Param(ps[2]), n, true)
		}
	}
	x, f, v := in("x", 2, 3, 6), in("f", 2, 3, 6), in("v", 6)
	w := input{name: "weight", shape: []int{6}, lo: 0.5, hi: 1.5}
	for _, c := range []gradCase{
		{name: "layernorm", ins: []input{x, f, v, w, frozen("bias", 6)}, build: block(false, true, true)},
		{name: "layernorm bare", ins: []input{x, f, v}, build: block(false, false, false)},
		{name: "rmsnorm", ins: []input{x, f, v, w}, build: block(true, true, false)},
		{name: "rmsnorm bare", ins: []input{x, f, v}, build: block(true, false, false)},
	} {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, b, c) })
	}
}

// fusionCounter counts the norm operations that reach the backend.
type fusionCounter struct {
	backend.Backend
	calls map[string]int
}

func (c *fusionCounter) Add(a, b backend.Tensor) (backend.Tensor, error) {
	c.calls["Add"]++
	return c.Backend.Add(a, b)
}

func (c *fusionCounter) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	c.calls["LayerNorm"]++
	return c.Backend.LayerNorm(x, gamma, beta, eps)
}

func (c *fusionCounter) LayerNormBackward(x, gamma, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	c.calls["LayerNormBackward"]++
	return c.Backend.LayerNormBackward(x, gamma, dy, eps)
}

func (c *fusionCounter) AddNorm(a, b backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	c.calls["AddNorm"]++
	return c.Backend.AddNorm(a, b, o)
}

func (c *fusionCounter) NormBackwardAdd(x, dy, dres backend.Tensor, o backend.NormOptions) (backend.Tensor, error) {
	c.calls["NormBackwardAdd"]++
	return c.Backend.NormBackwardAdd(x, dy, dres, o)
}

// TestAddNormMatchesAddThenNorm checks that the fused graph gives the
// unfused one's values and gradients bit for bit on the CPU (whose fused
// rows are the plain ops' rows), with the backend calls it saves: forward
// Add + LayerNorm become one AddNorm, and the norm's backward plus the
// gradient sum on s become one NormBackwardAdd.
func TestAddNormMatchesAddThenNorm(t *testing.T) {
	cpu := openCPU(t)
	rng := newRNG()
	xs, fs, vs := uniform(rng, 24, -1, 1), uniform(rng, 24, -1, 1), uniform(rng, 6, -1, 1)
	ws, bs := uniform(rng, 6, 0.5, 1.5), uniform(rng, 6, -0.5, 0.5)
	run := func(fused bool) (calls map[string]int, y, dx, df []float32) {
		b := &fusionCounter{Backend: cpu, calls: map[string]int{}}
		x := &Param{Name: "x", T: upload(t, b, xs, 4, 6), Trainable: true}
		f := &Param{Name: "f", T: upload(t, b, fs, 4, 6), Trainable: true}
		v := &Param{Name: "v", T: upload(t, b, vs, 6)}
		n := &Norm{Class: "LayerNorm", Eps: 1e-5, Weight: &Param{Name: "ln.weight", T: upload(t, b, ws, 6)},
			Bias: &Param{Name: "ln.bias", T: upload(t, b, bs, 6)}}
		defer func() {
			for _, p := range []*Param{x, f, v, n.Weight, n.Bias} {
				b.Free(p.T)
			}
		}()
		g := NewGraph(b, true)
		defer g.Release()
		out := preNormBlock(g, g.Param(x), g.Param(f), g.Constant(v.T), n, fused)
		loss := project(t, g, out, uniform(newRNG(), 24, -1, 1))
		require.NoError(t, g.Backward(loss))
		return b.calls, download(t, b, out.T), download(t, b, g.ParamGrad(x)), download(t, b, g.ParamGrad(f))
	}
	plainCalls, y0, dx0, df0 := run(false)
	fusedCalls, y1, dx1, df1 := run(true)
	assert.Equal(t, y0, y1, "output")
	assert.Equal(t, dx0, dx1, "dx")
	assert.Equal(t, df0, df1, "df")
	// Unfused: Add (s), LayerNorm, Add (out) forward; backward, the norm's
	// dx is added to s's gradient from the output Add.
	assert.Equal(t, map[string]int{"Add": 2, "LayerNorm": 1, "NormBackwardAdd": 1}, plainCalls,
		"Norm's backward already fuses the gradient sum")
	assert.Equal(t, map[string]int{"Add": 1, "AddNorm": 1, "NormBackwardAdd": 1}, fusedCalls)
}
