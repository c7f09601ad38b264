package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is one metadata value. Scalars hold uint64 (unsigned types),
// int64 (signed), float64 (floats), bool or string; an array holds a slice
// of one of those, or []Value for an array of arrays.
type Value struct {
	// Type is the value's type tag.
	Type ValueType
	// Elem is an array's element type (unset for scalars).
	Elem ValueType
	data any
}

// Uint returns an integer value as uint64; false for other types and
// negative integers.
func (v Value) Uint() (uint64, bool) {
	switch x := v.data.(type) {
	case uint64:
		return x, true
	case int64:
		if x >= 0 {
			return uint64(x), true
		}
	}
	return 0, false
}

// Int returns an integer value as int64; false for other types and
// unsigned values past MaxInt64.
func (v Value) Int() (int64, bool) {
	switch x := v.data.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Float returns a float or integer value as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.data.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) {
	b, ok := v.data.(bool)
	return b, ok
}

// Str returns a string value.
func (v Value) Str() (string, bool) {
	s, ok := v.data.(string)
	return s, ok
}

// Len returns an array's length (0 for scalars).
func (v Value) Len() int {
	switch x := v.data.(type) {
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// Strings returns an array of strings.
func (v Value) Strings() ([]string, bool) {
	s, ok := v.data.([]string)
	return s, ok
}

// Ints returns an array of integers as int64 (false if an unsigned
// element is past MaxInt64).
func (v Value) Ints() ([]int64, bool) {
	switch x := v.data.(type) {
	case []int64:
		return x, true
	case []uint64:
		out := make([]int64, len(x))
		for i, u := range x {
			if u > math.MaxInt64 {
				return nil, false
			}
			out[i] = int64(u)
		}
		return out, true
	}
	return nil, false
}

// Floats returns an array of floats (or integers) as float64.
func (v Value) Floats() ([]float64, bool) {
	switch x := v.data.(type) {
	case []float64:
		return x, true
	case []int64:
		out := make([]float64, len(x))
		for i, n := range x {
			out[i] = float64(n)
		}
		return out, true
	case []uint64:
		out := make([]float64, len(x))
		for i, n := range x {
			out[i] = float64(n)
		}
		return out, true
	}
	return nil, false
}

// String renders the value for display; arrays longer than eight elements
// are summarised by their type, length and first elements.
func (v Value) String() string {
	if v.Type != TypeArray {
		if s, ok := v.data.(string); ok {
			return strconv.Quote(s)
		}
		return fmt.Sprint(v.data)
	}
	n := v.Len()
	shown := min(n, 8)
	parts := make([]string, 0, shown)
	for i := 0; i < shown; i++ {
		switch x := v.data.(type) {
		case []string:
			parts = append(parts, strconv.Quote(x[i]))
		case []uint64:
			parts = append(parts, fmt.Sprint(x[i]))
		case []int64:
			parts = append(parts, fmt.Sprint(x[i]))
		case []float64:
			parts = append(parts, fmt.Sprint(x[i]))
		case []bool:
			parts = append(parts, fmt.Sprint(x[i]))
		case []Value:
			parts = append(parts, x[i].String())
		}
	}
	s := "[" + strings.Join(parts, ", ")
	if n > shown {
		s += fmt.Sprintf(", … (%d %s)", n, v.Elem)
	}
	return s + "]"
}

// value reads one value of type t for the field what; depth counts the
// enclosing arrays.
func (p *parser) value(t ValueType, what string, depth int) (Value, error) {
	if t == TypeArray {
		if depth >= maxNesting {
			return Value{}, p.errf("%s: arrays nested deeper than %d", what, maxNesting)
		}
		et, err := p.u32(what + " element type")
		if err != nil {
			return Value{}, err
		}
		elem := ValueType(et)
		if elem > TypeFloat64 {
			return Value{}, p.errf("%s has unknown element type %d", what, et)
		}
		n, err := p.limited(what+" length", elem.minSize(), MaxArrayLen)
		if err != nil {
			return Value{}, err
		}
		data, err := p.array(elem, n, what, depth)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: TypeArray, Elem: elem, data: data}, nil
	}
	if t == TypeString {
		s, err := p.str(what)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: t, data: s}, nil
	}
	size := t.fixedSize()
	if size == 0 {
		return Value{}, p.errf("%s has unknown value type %d", what, uint32(t))
	}
	b, err := p.bytes(size, what)
	if err != nil {
		return Value{}, err
	}
	d, err := scalar(t, b)
	if err != nil {
		return Value{}, p.errf("%s: %v", what, err)
	}
	return Value{Type: t, data: d}, nil
}

// array reads n elements of type elem (n is already bounded by the bytes
// left, so the slices allocated are no larger than the file).
func (p *parser) array(elem ValueType, n int64, what string, depth int) (any, error) {
	switch elem {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			s, err := p.str(fmt.Sprintf("%s[%d]", what, i))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case TypeArray:
		out := make([]Value, n)
		for i := range out {
			et, err := p.u32(fmt.Sprintf("%s[%d] type", what, i))
			if err != nil {
				return nil, err
			}
			if ValueType(et) != TypeArray {
				return nil, p.errf("%s[%d]: array element type mismatch", what, i)
			}
			v, err := p.value(TypeArray, fmt.Sprintf("%s[%d]", what, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	size := elem.fixedSize()
	raw, err := p.bytes(n*size, what)
	if err != nil {
		return nil, err
	}
	switch elem {
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			d, _ := scalar(elem, raw[int64(i)*size:])
			out[i] = d.(uint64)
		}
		return out, nil
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		out := make([]int64, n)
		for i := range out {
			d, _ := scalar(elem, raw[int64(i)*size:])
			out[i] = d.(int64)
		}
		return out, nil
	case TypeFloat32, TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			d, _ := scalar(elem, raw[int64(i)*size:])
			out[i] = d.(float64)
		}
		return out, nil
	default: // TypeBool
		out := make([]bool, n)
		for i := range out {
			if raw[i] > 1 {
				return nil, p.errf("%s[%d]: bool byte is %d", what, i, raw[i])
			}
			out[i] = raw[i] == 1
		}
		return out, nil
	}
}

// scalar decodes a fixed-size value of type t from the start of b.
func scalar(t ValueType, b []byte) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return uint64(b[0]), nil
	case TypeInt8:
		return int64(int8(b[0])), nil
	case TypeUint16:
		return uint64(le.Uint16(b)), nil
	case TypeInt16:
		return int64(int16(le.Uint16(b))), nil
	case TypeUint32:
		return uint64(le.Uint32(b)), nil
	case TypeInt32:
		return int64(int32(le.Uint32(b))), nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	case TypeFloat32:
		return float64(math.Float32frombits(le.Uint32(b))), nil
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, fmt.Errorf("bool byte is %d", b[0])
		}
		return b[0] == 1, nil
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(t))
}
