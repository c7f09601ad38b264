// Package ref is an independent float64 reference of every backend.Backend
// operation, written as plain loops over []float64 with explicit shapes.
//
// It exists so that the conformance suite can judge every device against
// one slow but transparent implementation: nothing here is tuned, fused or
// shared with a backend, and every backward operation is itself checked
// against central finite differences of the forward (see the tests). The
// semantics follow the doc comments of package backend, which are the spec.
//
// Functions validate shapes and return an error naming the operation and
// the shapes involved; they never panic on malformed input.
package ref

import (
	"fmt"
	"math"
)

// T is a dense row-major float64 tensor: the last dimension varies fastest.
// A Shape of length 0 is a scalar with one element.
type T struct {
	Shape []int
	Data  []float64
}

// New returns a zero tensor of the given shape.
func New(shape ...int) T {
	return T{Shape: append([]int(nil), shape...), Data: make([]float64, numel(shape))}
}

// FromData wraps data (not copied) with a shape, checking the element count.
func FromData(data []float64, shape ...int) (T, error) {
	if err := checkShape(shape); err != nil {
		return T{}, err
	}
	if n := numel(shape); n != len(data) {
		return T{}, fmt.Errorf("ref: %d values for shape %v (want %d)", len(data), shape, n)
	}
	return T{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Len returns the number of elements.
func (t T) Len() int { return numel(t.Shape) }

// Clone returns a deep copy of t.
func (t T) Clone() T {
	return T{Shape: append([]int(nil), t.Shape...), Data: append([]float64(nil), t.Data...)}
}

// valid reports an error when t's data does not match its shape.
func (t T) valid(op, name string) error {
	if err := checkShape(t.Shape); err != nil {
		return fmt.Errorf("ref %s: %s: %w", op, name, err)
	}
	if len(t.Data) != numel(t.Shape) {
		return fmt.Errorf("ref %s: %s has %d values for shape %v", op, name, len(t.Data), t.Shape)
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > 0 && n > math.MaxInt32/d {
			return fmt.Errorf("shape %v too large for the reference", shape)
		}
		n *= d
	}
	return nil
}

// rowsCols splits a shape into the product of its leading dimensions and
// its last dimension.
func rowsCols(shape []int) (rows, cols int) {
	if len(shape) == 0 {
		return 1, 1
	}
	cols = shape[len(shape)-1]
	return numel(shape[:len(shape)-1]), cols
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
