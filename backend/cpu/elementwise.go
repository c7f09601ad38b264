package cpu

import (
	"math"

	"github.com/ia3/ia3/backend"
)

// Add returns a + b, b broadcast over a's leading dimensions.
func (b *Backend) Add(a, bt backend.Tensor) (backend.Tensor, error) {
	return b.binary("add", a, bt, addInto)
}

// Sub returns a − b, b broadcast over a's leading dimensions.
func (b *Backend) Sub(a, bt backend.Tensor) (backend.Tensor, error) {
	return b.binary("sub", a, bt, func(dst, x, y []float32) {
		y = y[:len(x)]
		for i, v := range x {
			dst[i] = v - y[i]
		}
	})
}

// Mul returns a ⊙ b, b broadcast over a's leading dimensions.
func (b *Backend) Mul(a, bt backend.Tensor) (backend.Tensor, error) {
	return b.binary("mul", a, bt, mulInto)
}

// binary applies f to each b-sized chunk of a with b.
func (b *Backend) binary(op string, at, bt backend.Tensor, f func(dst, x, y []float32)) (backend.Tensor, error) {
	x, err := b.tensorOf(op, "a", at)
	if err != nil {
		return nil, err
	}
	y, err := b.tensorOf(op, "b", bt)
	if err != nil {
		return nil, err
	}
	out := b.newF32(x.shape...)
	nb := len(y.f)
	b.parallelFor(len(x.f)/nb, nb, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			f(out.f[c*nb:(c+1)*nb], x.f[c*nb:(c+1)*nb], y.f)
		}
	})
	return out, nil
}

// addInto sets dst = x + y element-wise (dst may alias x).
func addInto(dst, x, y []float32) {
	y = y[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// mulInto sets dst = x ⊙ y element-wise (dst may alias x).
func mulInto(dst, x, y []float32) {
	y = y[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * y[i]
	}
}

// Affine returns alpha·x + beta.
func (b *Backend) Affine(xt backend.Tensor, alpha, beta float32) (backend.Tensor, error) {
	return b.unary("affine", xt, func(v float32) float32 { return alpha*v + beta })
}

// Activation applies f element-wise.
func (b *Backend) Activation(f backend.Unary, xt backend.Tensor) (backend.Tensor, error) {
	fn, _ := activation(f)
	if fn == nil {
		return nil, unknownActivation("activation", f)
	}
	if f == backend.GELUTanh {
		return b.unarySlice("activation", xt, geluTanhInto)
	}
	return b.unary("activation", xt, fn)
}

// unary maps f over x into a new tensor.
func (b *Backend) unary(op string, xt backend.Tensor, f func(float32) float32) (backend.Tensor, error) {
	return b.unarySlice(op, xt, func(dst, src []float32) {
		src = src[:len(dst)]
		for i, v := range src {
			dst[i] = f(v)
		}
	})
}

// unarySlice applies the slice kernel f(dst, x) to chunks of x.
func (b *Backend) unarySlice(op string, xt backend.Tensor, f func(dst, x []float32)) (backend.Tensor, error) {
	x, err := b.tensorOf(op, "x", xt)
	if err != nil {
		return nil, err
	}
	out := b.newF32(x.shape...)
	b.parallelFor(len(x.f), 8, func(lo, hi int) {
		f(out.f[lo:hi], x.f[lo:hi])
	})
	return out, nil
}

// ActivationBackward returns dy ⊙ f'(x).
func (b *Backend) ActivationBackward(f backend.Unary, xt, dyt backend.Tensor) (backend.Tensor, error) {
	const op = "activation_backward"
	_, df := activation(f)
	if df == nil {
		return nil, unknownActivation(op, f)
	}
	x, err := b.tensorOf(op, "x", xt)
	if err != nil {
		return nil, err
	}
	dy, err := b.tensorOf(op, "dy", dyt)
	if err != nil {
		return nil, err
	}
	out := b.newF32(x.shape...)
	if f == backend.GELUTanh {
		b.parallelFor(len(x.f), 8, func(lo, hi int) {
			geluTanhGradInto(out.f[lo:hi], x.f[lo:hi], dy.f[lo:hi])
		})
		return out, nil
	}
	b.parallelFor(len(x.f), 8, func(lo, hi int) {
		src, g, dst := x.f[lo:hi], dy.f[lo:hi], out.f[lo:hi]
		for i, v := range src {
			dst[i] = g[i] * df(v)
		}
	})
	return out, nil
}

// SwiGLU returns silu(gate) ⊙ up.
func (b *Backend) SwiGLU(gate, up backend.Tensor) (backend.Tensor, error) {
	const op = "swiglu"
	g, err := b.tensorOf(op, "gate", gate)
	if err != nil {
		return nil, err
	}
	u, err := b.tensorOf(op, "up", up)
	if err != nil {
		return nil, err
	}
	out := b.newF32(g.shape...)
	b.parallelFor(len(g.f), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.f[i] = silu(g.f[i]) * u.f[i]
		}
	})
	return out, nil
}

// SwiGLUBackward returns d(gate) = dy ⊙ up ⊙ silu'(gate) and
// d(up) = dy ⊙ silu(gate).
func (b *Backend) SwiGLUBackward(gate, up, dyt backend.Tensor) (backend.Tensor, backend.Tensor, error) {
	const op = "swiglu_backward"
	g, err := b.tensorOf(op, "gate", gate)
	if err != nil {
		return nil, nil, err
	}
	u, err := b.tensorOf(op, "up", up)
	if err != nil {
		return nil, nil, err
	}
	dy, err := b.tensorOf(op, "dy", dyt)
	if err != nil {
		return nil, nil, err
	}
	dg, du := b.newF32(g.shape...), b.newF32(g.shape...)
	b.parallelFor(len(g.f), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dg.f[i] = dy.f[i] * u.f[i] * siluGrad(g.f[i])
			du.f[i] = dy.f[i] * silu(g.f[i])
		}
	})
	return dg, du, nil
}

func unknownActivation(op string, f backend.Unary) error {
	return &backend.ArgError{Op: op, Msg: "unknown activation " + f.String()}
}

// activation returns f and its derivative, computed in float64 and rounded
// once, so results sit within half an ulp of the exact value.
func activation(f backend.Unary) (fn, df func(float32) float32) {
	switch f {
	case backend.GELUErf:
		return geluErf, geluErfGrad
	case backend.GELUTanh:
		return geluTanh, geluTanhGrad
	case backend.ReLU:
		return relu, reluGrad
	case backend.SiLU:
		return silu, siluGrad
	case backend.Tanh:
		return func(x float32) float32 { return float32(math.Tanh(float64(x))) },
			func(x float32) float32 { t := math.Tanh(float64(x)); return float32(1 - t*t) }
	case backend.Sigmoid:
		return func(x float32) float32 { return float32(sigmoid(float64(x))) },
			func(x float32) float32 { s := sigmoid(float64(x)); return float32(s * (1 - s)) }
	case backend.Log:
		return func(x float32) float32 { return float32(math.Log(float64(x))) },
			func(x float32) float32 { return float32(1 / float64(x)) }
	}
	return nil, nil
}

const (
	invSqrt2    = 1 / math.Sqrt2
	invSqrt2Pi  = 0.3989422804014327 // 1/√(2π)
	sqrt2OverPi = 0.7978845608028654 // √(2/π)
	geluCoeff   = 0.044715
)

func geluErf(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v*invSqrt2)))
}

func geluErfGrad(x float32) float32 {
	v := float64(x)
	return float32(0.5*(1+math.Erf(v*invSqrt2)) + v*invSqrt2Pi*math.Exp(-0.5*v*v))
}

func geluTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(sqrt2OverPi*(v+geluCoeff*v*v*v))))
}

func geluTanhGrad(x float32) float32 {
	v := float64(x)
	t := math.Tanh(sqrt2OverPi * (v + geluCoeff*v*v*v))
	return float32(0.5*(1+t) + 0.5*v*(1-t*t)*sqrt2OverPi*(1+3*geluCoeff*v*v))
}

func relu(x float32) float32 {
	if x > 0 {
		return x
	}
	return 0
}

func reluGrad(x float32) float32 {
	if x > 0 {
		return 1
	}
	return 0
}

// sigmoid is 1/(1+e^−x), written to avoid overflow for large |x|.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func silu(x float32) float32 {
	v := float64(x)
	return float32(v * sigmoid(v))
}

func siluGrad(x float32) float32 {
	v := float64(x)
	s := sigmoid(v)
	return float32(s * (1 + v*(1-s)))
}
