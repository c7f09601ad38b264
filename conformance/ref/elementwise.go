package ref

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
)

// binary applies f to a and b, where b's shape equals a's or is a suffix of
// it (b then repeats over a's leading dimensions).
func binary(op string, a, b T, f func(x, y float64) float64) (T, error) {
	if err := a.valid(op, "a"); err != nil {
		return T{}, err
	}
	if err := b.valid(op, "b"); err != nil {
		return T{}, err
	}
	if len(b.Shape) > len(a.Shape) || !sameShape(a.Shape[len(a.Shape)-len(b.Shape):], b.Shape) {
		return T{}, fmt.Errorf("ref %s: b %v is not a suffix of a %v", op, b.Shape, a.Shape)
	}
	out := New(a.Shape...)
	n := len(b.Data)
	for i, x := range a.Data {
		out.Data[i] = f(x, b.Data[i%n])
	}
	return out, nil
}

// Add returns a + b with suffix broadcasting.
func Add(a, b T) (T, error) { return binary("Add", a, b, func(x, y float64) float64 { return x + y }) }

// Sub returns a − b with suffix broadcasting.
func Sub(a, b T) (T, error) { return binary("Sub", a, b, func(x, y float64) float64 { return x - y }) }

// Mul returns a ⊙ b with suffix broadcasting.
func Mul(a, b T) (T, error) { return binary("Mul", a, b, func(x, y float64) float64 { return x * y }) }

// Affine returns alpha·x + beta.
func Affine(x T, alpha, beta float64) (T, error) {
	if err := x.valid("Affine", "x"); err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	for i, v := range x.Data {
		out.Data[i] = alpha*v + beta
	}
	return out, nil
}

// sigmoid is the logistic function 1/(1+e^-x).
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// geluTanhC is √(2/π), the constant of the tanh approximation.
var geluTanhC = math.Sqrt(2 / math.Pi)

// Act evaluates activation f at x.
func Act(f backend.Unary, x float64) (float64, error) {
	switch f {
	case backend.GELUErf:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)), nil
	case backend.GELUTanh:
		return 0.5 * x * (1 + math.Tanh(geluTanhC*(x+0.044715*x*x*x))), nil
	case backend.ReLU:
		return math.Max(x, 0), nil
	case backend.SiLU:
		return x * sigmoid(x), nil
	case backend.Tanh:
		return math.Tanh(x), nil
	case backend.Sigmoid:
		return sigmoid(x), nil
	case backend.Log:
		return math.Log(x), nil
	}
	return 0, fmt.Errorf("ref: unknown activation %v", f)
}

// ActGrad evaluates the derivative f'(x). ReLU's derivative at 0 is 0, as
// torch's threshold_backward gives.
func ActGrad(f backend.Unary, x float64) (float64, error) {
	switch f {
	case backend.GELUErf:
		cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		pdf := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
		return cdf + x*pdf, nil
	case backend.GELUTanh:
		u := geluTanhC * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		du := geluTanhC * (1 + 3*0.044715*x*x)
		return 0.5*(1+th) + 0.5*x*(1-th*th)*du, nil
	case backend.ReLU:
		if x > 0 {
			return 1, nil
		}
		return 0, nil
	case backend.SiLU:
		s := sigmoid(x)
		return s * (1 + x*(1-s)), nil
	case backend.Tanh:
		th := math.Tanh(x)
		return 1 - th*th, nil
	case backend.Sigmoid:
		s := sigmoid(x)
		return s * (1 - s), nil
	case backend.Log:
		return 1 / x, nil
	}
	return 0, fmt.Errorf("ref: unknown activation %v", f)
}

// Activation applies f element-wise.
func Activation(f backend.Unary, x T) (T, error) {
	if err := x.valid("Activation", "x"); err != nil {
		return T{}, err
	}
	out := New(x.Shape...)
	for i, v := range x.Data {
		y, err := Act(f, v)
		if err != nil {
			return T{}, err
		}
		out.Data[i] = y
	}
	return out, nil
}

// ActivationBackward returns dy ⊙ f'(x).
func ActivationBackward(f backend.Unary, x, dy T) (T, error) {
	if err := x.valid("ActivationBackward", "x"); err != nil {
		return T{}, err
	}
	if err := dy.valid("ActivationBackward", "dy"); err != nil {
		return T{}, err
	}
	if !sameShape(x.Shape, dy.Shape) {
		return T{}, fmt.Errorf("ref ActivationBackward: x %v vs dy %v", x.Shape, dy.Shape)
	}
	out := New(x.Shape...)
	for i, v := range x.Data {
		d, err := ActGrad(f, v)
		if err != nil {
			return T{}, err
		}
		out.Data[i] = dy.Data[i] * d
	}
	return out, nil
}

// SwiGLU returns silu(gate) ⊙ up.
func SwiGLU(gate, up T) (T, error) {
	if err := sameShapes("SwiGLU", gate, up); err != nil {
		return T{}, err
	}
	out := New(gate.Shape...)
	for i, g := range gate.Data {
		out.Data[i] = g * sigmoid(g) * up.Data[i]
	}
	return out, nil
}

// SwiGLUBackward returns d(gate) = dy·up·silu'(gate) and d(up) = dy·silu(gate).
func SwiGLUBackward(gate, up, dy T) (dgate, dup T, err error) {
	if err := sameShapes("SwiGLUBackward", gate, up, dy); err != nil {
		return T{}, T{}, err
	}
	dgate, dup = New(gate.Shape...), New(gate.Shape...)
	for i, g := range gate.Data {
		s := sigmoid(g)
		dgate.Data[i] = dy.Data[i] * up.Data[i] * s * (1 + g*(1-s))
		dup.Data[i] = dy.Data[i] * g * s
	}
	return dgate, dup, nil
}

// sameShapes checks that every tensor is valid and shaped as the first.
func sameShapes(op string, ts ...T) error {
	for i, t := range ts {
		if err := t.valid(op, fmt.Sprintf("input %d", i)); err != nil {
			return err
		}
		if !sameShape(t.Shape, ts[0].Shape) {
			return fmt.Errorf("ref %s: input %d shape %v vs %v", op, i, t.Shape, ts[0].Shape)
		}
	}
	return nil
}
