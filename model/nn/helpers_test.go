package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
)

// openCPU opens the pure-Go backend for one test.
func openCPU(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// upload puts data on b, freed when the test ends.
func upload(t *testing.T, b backend.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromFloat32(data, shape...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(x) })
	return x
}

// uploadInt32 puts I32 data on b, freed when the test ends.
func uploadInt32(t *testing.T, b backend.Backend, data []int32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromInt32(data, shape...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(x) })
	return x
}

// download reads a float tensor back.
func download(t *testing.T, b backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	require.NotNil(t, x)
	d, err := b.ToFloat32(x)
	require.NoError(t, err)
	return d
}

// randn returns n pseudo-random values uniform in [lo, hi).
func uniform(rng *rand.Rand, n int, lo, hi float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = lo + (hi-lo)*rng.Float32()
	}
	return out
}

// testAdapter is a LinearAdapter with trainable (or frozen) Out and In
// vectors, standing in for package ia3's adapter.
type testAdapter struct {
	out, in *Param
	index   backend.Tensor
}

// Scaling returns the adapter's vectors as graph values.
func (a *testAdapter) Scaling(g *Graph, rows int) (Scaling, error) {
	var s Scaling
	if a.out != nil {
		s.Out = g.Param(a.out)
	}
	if a.in != nil {
		s.In = g.Param(a.in)
	}
	s.Index = a.index
	return s, nil
}

// input describes one parameter of a gradient check.
type input struct {
	name      string
	shape     []int
	lo, hi    float32 // range of the random values; both 0 means [-1, 1)
	trainable bool
	f16       bool // stored as F16 (frozen weights as loaded), values on a 1/64 grid
}

// gradCase is one gradient check: build turns the inputs (as parameters,
// in the order of ins) into an output value of any shape.
type gradCase struct {
	name  string
	ins   []input
	build func(t *testing.T, g *Graph, ps []*Param) *Value
}

// project reduces y to the scalar Σ r⊙y inside the graph, so that every
// element of y reaches the loss with its own random weight.
func project(t *testing.T, g *Graph, y *Value, r []float32) *Value {
	t.Helper()
	n := y.T.Len()
	rt, err := g.B.FromFloat32(r, n, 1)
	require.NoError(t, err)
	flat := g.Reshape(y, 1, n)
	return g.Reshape(g.MatMul(flat, g.Input(rt), backend.MatMulOptions{}), 1)
}

// checkGrad compares the graph's gradient of Σ r⊙y for every trainable
// input with central finite differences in float64, and asserts that
// frozen inputs get no gradient.
func checkGrad(t *testing.T, b backend.Backend, c gradCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	data := make([][]float32, len(c.ins))
	ps := make([]*Param, len(c.ins))
	setParam := func(i int) {
		if ps[i].T != nil {
			b.Free(ps[i].T)
		}
		var x backend.Tensor
		var err error
		if c.ins[i].f16 {
			x, err = b.FromBytes(backend.F16, f16Bytes(data[i]), c.ins[i].shape...)
			require.NoError(t, err)
			require.Equal(t, data[i], download(t, b, x), "F16 encoding of %s", c.ins[i].name)
		} else {
			x, err = b.FromFloat32(data[i], c.ins[i].shape...)
		}
		require.NoError(t, err)
		ps[i].T = x
	}
	for i, in := range c.ins {
		n := 1
		for _, d := range in.shape {
			n *= d
		}
		lo, hi := in.lo, in.hi
		if lo == 0 && hi == 0 {
			lo, hi = -1, 1
		}
		data[i] = uniform(rng, n, lo, hi)
		if in.f16 {
			for j, v := range data[i] {
				data[i][j] = float32(math.Round(float64(v)*64)) / 64
			}
		}
		ps[i] = &Param{Name: in.name, Trainable: in.trainable}
		setParam(i)
	}
	t.Cleanup(func() {
		for _, p := range ps {
			b.Free(p.T)
		}
	})

	// Analytic gradients.
	g := NewGraph(b, true)
	y := c.build(t, g, ps)
	require.NoError(t, g.Err())
	r := uniform(rng, y.T.Len(), -1, 1)
	loss := project(t, g, y, r)
	require.NoError(t, g.Backward(loss))
	grads := make([][]float32, len(c.ins))
	for i, in := range c.ins {
		gt := g.ParamGrad(ps[i])
		if !in.trainable {
			require.Nil(t, gt, "frozen input %s got a gradient", in.name)
			continue
		}
		require.NotNil(t, gt, "trainable input %s got no gradient", in.name)
		require.Equal(t, ps[i].T.Shape(), gt.Shape(), "gradient shape of %s", in.name)
		grads[i] = download(t, b, gt)
	}
	g.Release()

	// Numeric gradients by central differences of the same projection.
	f := func() float64 {
		g := NewGraph(b, false)
		defer g.Release()
		y := c.build(t, g, ps)
		require.NoError(t, g.Err())
		yd := download(t, b, y.T)
		s := 0.0
		for i, v := range yd {
			s += float64(r[i]) * float64(v)
		}
		return s
	}
	const h = 1e-2
	for i, in := range c.ins {
		if !in.trainable {
			continue
		}
		num := make([]float64, len(data[i]))
		scale := 0.0
		for j := range data[i] {
			v := data[i][j]
			data[i][j] = v + h
			setParam(i)
			fp := f()
			data[i][j] = v - h
			setParam(i)
			fm := f()
			data[i][j] = v
			setParam(i)
			num[j] = (fp - fm) / (2 * h)
			scale = math.Max(scale, math.Abs(num[j]))
		}
		for j := range num {
			tol := 2e-3*math.Abs(num[j]) + 1e-3*(1+scale)
			require.InDelta(t, num[j], float64(grads[i][j]), tol,
				"d/d%s[%d]: analytic %g, numeric %g", in.name, j, grads[i][j], num[j])
		}
	}
}

// countingBackend counts the matrix products that reach the device, to
// prove that frozen weights cost no weight-gradient matmul.
type countingBackend struct {
	backend.Backend
	matmuls int
	freed   map[backend.Tensor]bool
}

// MatMul counts and forwards.
func (c *countingBackend) MatMul(a, b backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	c.matmuls++
	return c.Backend.MatMul(a, b, o)
}

// Free records and forwards.
func (c *countingBackend) Free(t backend.Tensor) {
	if c.freed != nil {
		c.freed[t] = true
	}
	c.Backend.Free(t)
}

// newRNG returns a deterministic generator for test data.
func newRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// unary builds a one-input case.
func unary(name string, in input, f func(g *Graph, x *Value) *Value) gradCase {
	return gradCase{name: name, ins: []input{in}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
		return f(g, g.Param(ps[0]))
	}}
}

// binaryCase builds a two-input case.
func binaryCase(name string, a, b input, f func(g *Graph, a, b *Value) *Value) gradCase {
	return gradCase{name: name, ins: []input{a, b}, build: func(t *testing.T, g *Graph, ps []*Param) *Value {
		return f(g, g.Param(ps[0]), g.Param(ps[1]))
	}}
}

// in is a trainable input of the given shape with values in [-1, 1).
func in(name string, shape ...int) input { return input{name: name, shape: shape, trainable: true} }

// frozen is in without a gradient.
func frozen(name string, shape ...int) input { return input{name: name, shape: shape} }

// f16Bytes encodes values that F16 holds exactly (zero or normal numbers
// with at most 11 significant bits) as little-endian binary16.
func f16Bytes(vs []float32) []byte {
	out := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		var bits uint16
		if v != 0 {
			if v < 0 {
				bits, v = 0x8000, -v
			}
			frac, exp := math.Frexp(float64(v)) // v = frac·2^exp, frac in [0.5, 1)
			bits |= uint16(exp-1+15)<<10 | uint16((frac*2-1)*1024)
		}
		out = append(out, byte(bits), byte(bits>>8))
	}
	return out
}
