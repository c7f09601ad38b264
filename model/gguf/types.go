package gguf

import "fmt"

// ValueType is the type tag of a metadata value (gguf_type).
type ValueType uint32

// Metadata value types, numbered as in the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
	"string", "array", "uint64", "int64", "float64"}

// String returns the type's name ("uint32", "array", ...).
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// fixedSize returns the encoded size of a scalar of type t (0 for strings
// and arrays, whose size depends on their content).
func (t ValueType) fixedSize() int64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one encoded value of type t can take: it
// bounds element counts by the bytes left in the file.
func (t ValueType) minSize() int64 {
	switch t {
	case TypeString:
		return 8 // the length
	case TypeArray:
		return 12 // element type and count
	}
	return t.fixedSize()
}

// Type is a ggml tensor type (ggml_type).
type Type uint32

// Tensor types, numbered as in ggml.h. Only the layouts of the ones this
// package dequantises matter to it; the others are known by size so that a
// file holding them can still be listed.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
)

// qk is the super-block size of the k-quant types (QK_K).
const qk = 256

// typeTraits is a type's name, elements per block and bytes per block.
type typeTraits struct {
	name        string
	blockSize   int64
	typeSize    int64
	dequantised bool
}

var traits = map[Type]typeTraits{
	F32: {"F32", 1, 4, true}, F16: {"F16", 1, 2, true}, BF16: {"BF16", 1, 2, true},
	Q4_0: {"Q4_0", 32, 18, true}, Q4_1: {"Q4_1", 32, 20, true},
	Q5_0: {"Q5_0", 32, 22, true}, Q5_1: {"Q5_1", 32, 24, true},
	Q8_0: {"Q8_0", 32, 34, true}, Q8_1: {"Q8_1", 32, 40, false},
	Q2_K: {"Q2_K", qk, 84, true}, Q3_K: {"Q3_K", qk, 110, true},
	Q4_K: {"Q4_K", qk, 144, true}, Q5_K: {"Q5_K", qk, 176, true},
	Q6_K: {"Q6_K", qk, 210, true}, Q8_K: {"Q8_K", qk, 292, false},
	IQ2_XXS: {"IQ2_XXS", qk, 66, false}, IQ2_XS: {"IQ2_XS", qk, 74, false},
	IQ3_XXS: {"IQ3_XXS", qk, 98, false}, IQ1_S: {"IQ1_S", qk, 50, false},
	IQ4_NL: {"IQ4_NL", 32, 18, false}, IQ3_S: {"IQ3_S", qk, 110, false},
	IQ2_S: {"IQ2_S", qk, 82, false}, IQ4_XS: {"IQ4_XS", qk, 136, false},
	I8: {"I8", 1, 1, false}, I16: {"I16", 1, 2, false}, I32: {"I32", 1, 4, false},
	I64: {"I64", 1, 8, false}, F64: {"F64", 1, 8, false}, IQ1_M: {"IQ1_M", qk, 56, false},
	TQ1_0: {"TQ1_0", qk, 54, false}, TQ2_0: {"TQ2_0", qk, 66, false},
}

// String returns ggml's name for the type ("Q4_K"), or type(N) for one
// this package does not know.
func (t Type) String() string {
	if tr, ok := traits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the number of elements one block of the type encodes
// (1 for the plain float and integer types), or 0 for an unknown type.
func (t Type) BlockSize() int64 { return traits[t].blockSize }

// TypeSize returns the bytes of one block of the type, or 0 for an
// unknown type.
func (t Type) TypeSize() int64 { return traits[t].typeSize }

// Dequantisable reports whether Dequantize decodes the type.
func (t Type) Dequantisable() bool { return traits[t].dequantised }
