package ref

import (
	"fmt"
	"math"
)

// UnmergeEps is the constant PEFT adds to a vector before dividing by it
// when it unmerges an (IA)³ adapter.
const UnmergeEps = 1e-8

// scaleBy multiplies or, inverted, divides by (v + UnmergeEps).
func scaleBy(w, v float64, invert bool) float64 {
	if invert {
		return w / (v + UnmergeEps)
	}
	return w * v
}

// ScaleRows returns w [R, C] with row r multiplied by v[r], or divided by
// v[r] + 1e-8 when invert is set.
func ScaleRows(w, v T, invert bool) (T, error) {
	if err := w.valid("ScaleRows", "w"); err != nil {
		return T{}, err
	}
	if len(w.Shape) != 2 || len(v.Shape) != 1 || v.Shape[0] != w.Shape[0] || len(v.Data) != v.Shape[0] {
		return T{}, fmt.Errorf("ref ScaleRows: w %v, v %v: want [R, C] and [R]", w.Shape, v.Shape)
	}
	c := w.Shape[1]
	out := New(w.Shape...)
	for i, x := range w.Data {
		out.Data[i] = scaleBy(x, v.Data[i/c], invert)
	}
	return out, nil
}

// ScaleCols returns w [R, C] with column c multiplied by v[c], or divided
// by v[c] + 1e-8 when invert is set.
func ScaleCols(w, v T, invert bool) (T, error) {
	if err := w.valid("ScaleCols", "w"); err != nil {
		return T{}, err
	}
	if len(w.Shape) != 2 || len(v.Shape) != 1 || v.Shape[0] != w.Shape[1] || len(v.Data) != v.Shape[0] {
		return T{}, fmt.Errorf("ref ScaleCols: w %v, v %v: want [R, C] and [C]", w.Shape, v.Shape)
	}
	c := w.Shape[1]
	out := New(w.Shape...)
	for i, x := range w.Data {
		out.Data[i] = scaleBy(x, v.Data[i%c], invert)
	}
	return out, nil
}

// WeightedSum returns Σ weights[i]·xs[i] over tensors of one shape.
func WeightedSum(xs []T, weights []float64) (T, error) {
	if len(xs) == 0 || len(xs) != len(weights) {
		return T{}, fmt.Errorf("ref WeightedSum: %d tensors with %d weights", len(xs), len(weights))
	}
	if err := sameShapes("WeightedSum", xs...); err != nil {
		return T{}, err
	}
	out := New(xs[0].Shape...)
	for k, x := range xs {
		for i, v := range x.Data {
			out.Data[i] += weights[k] * v
		}
	}
	return out, nil
}

// AllFinite reports whether every element is neither infinite nor NaN.
func AllFinite(x T) bool {
	for _, v := range x.Data {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return false
		}
	}
	return true
}
