package gguf

import (
	"fmt"
	"maps"
	"slices"
)

// NewMetadata returns a File holding the given metadata and no tensors, so
// that a config or tokenizer can be built (HFConfig, TokenizerJSON) from
// key/values gathered elsewhere, for example from a converter's output.
// Values are Go scalars (string, bool, uint8…uint64, int8…int64, float32,
// float64; int is int32) or slices of them; name labels the metadata in
// messages.
func NewMetadata(name string, kv map[string]any) (*File, error) {
	f := &File{path: name, version: 3, alignment: DefaultAlignment, kv: map[string]Value{}, byName: map[string]int{}}
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		v, err := toValue(kv[k])
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: metadata %s: %w", name, k, err)
		}
		f.keys = append(f.keys, k)
		f.kv[k] = v
	}
	return f, nil
}

// toValue converts a Go value to a metadata Value.
func toValue(x any) (Value, error) {
	switch v := x.(type) {
	case string:
		return Value{Type: TypeString, data: v}, nil
	case bool:
		return Value{Type: TypeBool, data: v}, nil
	case uint8:
		return Value{Type: TypeUint8, data: uint64(v)}, nil
	case uint16:
		return Value{Type: TypeUint16, data: uint64(v)}, nil
	case uint32:
		return Value{Type: TypeUint32, data: uint64(v)}, nil
	case uint64:
		return Value{Type: TypeUint64, data: v}, nil
	case int8:
		return Value{Type: TypeInt8, data: int64(v)}, nil
	case int16:
		return Value{Type: TypeInt16, data: int64(v)}, nil
	case int32:
		return Value{Type: TypeInt32, data: int64(v)}, nil
	case int:
		return Value{Type: TypeInt32, data: int64(v)}, nil
	case int64:
		return Value{Type: TypeInt64, data: v}, nil
	case float32:
		return Value{Type: TypeFloat32, data: float64(v)}, nil
	case float64:
		return Value{Type: TypeFloat64, data: v}, nil
	case []string:
		return Value{Type: TypeArray, Elem: TypeString, data: slices.Clone(v)}, nil
	case []bool:
		return Value{Type: TypeArray, Elem: TypeBool, data: slices.Clone(v)}, nil
	case []int32:
		return Value{Type: TypeArray, Elem: TypeInt32, data: widen[int32, int64](v)}, nil
	case []int64:
		return Value{Type: TypeArray, Elem: TypeInt64, data: slices.Clone(v)}, nil
	case []uint32:
		return Value{Type: TypeArray, Elem: TypeUint32, data: widen[uint32, uint64](v)}, nil
	case []float32:
		return Value{Type: TypeArray, Elem: TypeFloat32, data: widen[float32, float64](v)}, nil
	case []float64:
		return Value{Type: TypeArray, Elem: TypeFloat64, data: slices.Clone(v)}, nil
	}
	return Value{}, fmt.Errorf("unsupported value type %T", x)
}

// widen converts a slice element by element.
func widen[From, To int32 | int64 | uint32 | uint64 | float32 | float64](v []From) []To {
	out := make([]To, len(v))
	for i, x := range v {
		out[i] = To(x)
	}
	return out
}
