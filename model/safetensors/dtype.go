package safetensors

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// littleEndianHost reports whether the machine stores numbers as the
// format does, so that float32 data can be copied instead of decoded.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Data type names as they appear in a safetensors header.
const (
	F64  = "F64"
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U8   = "U8"
	BOOL = "BOOL"
)

// dtypeSizes maps every supported dtype to its element size in bytes.
var dtypeSizes = map[string]int{
	F64: 8, I64: 8,
	F32: 4, I32: 4,
	F16: 2, BF16: 2, I16: 2,
	I8: 1, U8: 1, BOOL: 1,
}

// DTypeSize returns the size in bytes of one element of dtype, and false
// when dtype is not one this package supports.
func DTypeSize(dtype string) (int, bool) {
	n, ok := dtypeSizes[dtype]
	return n, ok
}

// f16ToF32 widens an IEEE 754 half-precision value exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload's top bits.
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise the mantissa into a normal float32.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// bf16ToF32 widens a bfloat16 value exactly: it is the top half of a float32.
func bf16ToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// decodeFloat32 converts raw little-endian elements of a floating dtype to
// float32. ok is false for non-floating dtypes.
func decodeFloat32(dtype string, raw []byte) (out []float32, ok bool) {
	switch dtype {
	case F32:
		out = make([]float32, len(raw)/4)
		if littleEndianHost && len(out) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(raw)), raw)
			return out, true
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		out = make([]float32, len(raw)/2)
		for i := range out {
			out[i] = f16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case BF16:
		out = make([]float32, len(raw)/2)
		for i := range out {
			out[i] = bf16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case F64:
		out = make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, false
	}
	return out, true
}

// decodeInt64 converts raw little-endian elements of an integer or bool
// dtype to int64. ok is false for floating dtypes.
func decodeInt64(dtype string, raw []byte) (out []int64, ok bool) {
	switch dtype {
	case I64:
		out = make([]int64, len(raw)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case I32:
		out = make([]int64, len(raw)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case I16:
		out = make([]int64, len(raw)/2)
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		}
	case I8:
		out = make([]int64, len(raw))
		for i, b := range raw {
			out[i] = int64(int8(b))
		}
	case U8, BOOL:
		out = make([]int64, len(raw))
		for i, b := range raw {
			out[i] = int64(b)
		}
	default:
		return nil, false
	}
	return out, true
}

// DecodeFloat32 converts raw little-endian elements of dtype (F32, F16,
// BF16 or F64) to float32, as File.Float32 does; other readers of the
// same dtypes (torch's pytorch_model.bin) share it. ok is false for a
// non-floating dtype.
func DecodeFloat32(dtype string, raw []byte) (out []float32, ok bool) {
	return decodeFloat32(dtype, raw)
}

// DecodeInt64 converts raw little-endian elements of an integer or bool
// dtype to int64, as File.Int64 does. ok is false for a floating dtype.
func DecodeInt64(dtype string, raw []byte) (out []int64, ok bool) {
	return decodeInt64(dtype, raw)
}
