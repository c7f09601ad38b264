package backend

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// MaxElements is the most elements one tensor may hold. Keeping every index
// within int32 lets GPU kernels address any element with 32-bit arithmetic,
// so the limit is the same on every device.
const MaxElements = math.MaxInt32

// ArgError is a malformed call caught before it reached a device: a nil
// tensor, a wrong dtype or shapes that do not fit the operation. Every
// backend opened through Open reports these identically.
type ArgError struct {
	Op  string // the operation, e.g. "matmul"
	Msg string // what is wrong, naming the arguments and their shapes
}

// Error returns "op: message".
func (e *ArgError) Error() string { return e.Op + ": " + e.Msg }

func argErr(op, format string, args ...any) error {
	return &ArgError{Op: op, Msg: fmt.Sprintf(format, args...)}
}

// dtypeSet is a set of DTypes an argument accepts.
type dtypeSet uint8

const (
	onlyF32  = dtypeSet(1 << F32)
	onlyI32  = dtypeSet(1 << I32)
	anyFloat = dtypeSet(1<<F32 | 1<<F16 | 1<<BF16)
	anyDType = dtypeSet(1<<F32 | 1<<F16 | 1<<BF16 | 1<<I32)
	// quantized are the block-quantized weight dtypes: 2-D, addressed only
	// by the operations that dequantize (weightFloat), never viewed.
	quantized = dtypeSet(1<<Q8_0 | 1<<NF4)
	// weightFloat is what a weight operand may be: any float storage.
	weightFloat = anyFloat | quantized
	// storable is what FromBytes accepts.
	storable = anyDType | quantized
	maxDType = NF4
	maxUnary = Log
)

func (s dtypeSet) has(d DType) bool { return d <= maxDType && s&(1<<d) != 0 }

// String lists the set as "F32", "F32, F16 or BF16", ...
func (s dtypeSet) String() string {
	var names []string
	for d := F32; d <= maxDType; d++ {
		if s.has(d) {
			names = append(names, d.String())
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// isNil reports whether t is nil or an interface holding a nil pointer, so a
// typed nil never reaches a method that would dereference it.
func isNil(t Tensor) bool {
	if t == nil {
		return true
	}
	v := reflect.ValueOf(t)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// numElements validates a shape (every dimension positive, at most
// MaxElements elements) and returns its element count.
func numElements(op, what string, shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d <= 0 {
			return 0, argErr(op, "%s shape %v: dimension %d is not positive", what, shape, d)
		}
		if n > MaxElements/d {
			return 0, argErr(op, "%s shape %v: more than %d elements", what, shape, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// tensorArg validates one tensor argument: not nil, a dtype of allowed and a
// valid shape. It returns the shape.
func tensorArg(op, name string, t Tensor, allowed dtypeSet) ([]int, error) {
	if isNil(t) {
		return nil, argErr(op, "%s is nil", name)
	}
	shape := t.Shape()
	if d := t.DType(); !allowed.has(d) {
		return nil, argErr(op, "%s %v has dtype %v, want %v", name, shape, d, allowed)
	}
	if _, err := numElements(op, name, shape); err != nil {
		return nil, err
	}
	return shape, nil
}

// weightArg validates a weight operand: a float dtype and the given rank; a
// quantized weight must also be 2-D with its last dimension a multiple of
// the format's block size.
// With exact the rank must equal rank, otherwise it is a minimum.
func weightArg(op, name string, t Tensor, rank int, exact bool) ([]int, error) {
	check := minRankArg
	if exact {
		check = rankArg
	}
	s, err := check(op, name, t, weightFloat, rank)
	if err != nil {
		return nil, err
	}
	if d := t.DType(); d.IsQuantized() {
		if _, err := storageBytes(op, d, s); err != nil {
			return nil, argErr(op, "%s %v %v: a quantized weight must be 2-D with its last dimension a multiple of %d", name, s, d, d.QuantFormat().BlockSize())
		}
	}
	return s, nil
}

// rankArg is tensorArg that also requires rank dimensions.
func rankArg(op, name string, t Tensor, allowed dtypeSet, rank int) ([]int, error) {
	s, err := tensorArg(op, name, t, allowed)
	if err != nil {
		return nil, err
	}
	if len(s) != rank {
		return nil, argErr(op, "%s %v has %d dimensions, want %d", name, s, len(s), rank)
	}
	return s, nil
}

// minRankArg is tensorArg that also requires at least rank dimensions.
func minRankArg(op, name string, t Tensor, allowed dtypeSet, rank int) ([]int, error) {
	s, err := tensorArg(op, name, t, allowed)
	if err != nil {
		return nil, err
	}
	if len(s) < rank {
		return nil, argErr(op, "%s %v has %d dimensions, want at least %d", name, s, len(s), rank)
	}
	return s, nil
}

// optionalVector validates an optional F32 [n] argument (nil passes).
func optionalVector(op, name string, t Tensor, n int, of string) error {
	if isNil(t) {
		return nil
	}
	s, err := tensorArg(op, name, t, onlyF32)
	if err != nil {
		return err
	}
	if len(s) != 1 || s[0] != n {
		return argErr(op, "%s %v: want [%d] (%s)", name, s, n, of)
	}
	return nil
}

// sameShape requires b's shape to equal a's.
func sameShape(op, an string, a []int, bn string, b []int) error {
	if !equalInts(a, b) {
		return argErr(op, "%s %v and %s %v: shapes differ", an, a, bn, b)
	}
	return nil
}

// sameShapeArgs validates F32 tensors that must share one shape and returns
// the shape.
func sameShapeArgs(op string, names []string, ts ...Tensor) ([]int, error) {
	var first []int
	for i, t := range ts {
		s, err := tensorArg(op, names[i], t, onlyF32)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = s
		} else if err := sameShape(op, names[0], first, names[i], s); err != nil {
			return nil, err
		}
	}
	return first, nil
}

// resultShape validates the shape an operation will produce.
func resultShape(op string, shape []int) error {
	_, err := numElements(op, "result", shape)
	return err
}

// checkDim validates a dimension index of a tensor of the given rank.
func checkDim(op, name string, shape []int, dim int) error {
	if dim < 0 || dim >= len(shape) {
		return argErr(op, "dim %d out of range for %s %v", dim, name, shape)
	}
	return nil
}

// checkFinite requires a float option to be finite.
func checkFinite(op, name string, v float32) error {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return argErr(op, "%s %v is not finite", name, v)
	}
	return nil
}

func equalInts(a, b []int) bool {
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

func product(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
