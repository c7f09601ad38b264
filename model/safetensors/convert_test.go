package safetensors

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDTypeConversions writes one tensor of every dtype and reads it back
// through the widening and narrowing accessors.
func TestDTypeConversions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dtypes.safetensors")
	f64 := make([]byte, 16)
	putU64 := func(b []byte, v uint64) {
		for i := range 8 {
			b[i] = byte(v >> (8 * i))
		}
	}
	putU64(f64, math.Float64bits(0.1))
	putU64(f64[8:], math.Float64bits(-3))
	tensors := []Tensor{
		// 1, -2, 65504 (max half), 2^-24 (smallest subnormal), +Inf
		{Name: "f16", DType: F16, Shape: []int{5}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c}},
		// 1, -2.5
		{Name: "bf16", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x20, 0xc0}},
		{Name: "f64", DType: F64, Shape: []int{2}, Data: f64},
		I64Tensor("i64", []int{3}, []int64{-1, 1 << 40, 7}),
		I64Tensor("i64small", []int{2}, []int64{math.MinInt32, math.MaxInt32}),
		{Name: "i32", DType: I32, Shape: []int{2}, Data: []byte{0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0}},
		{Name: "i16", DType: I16, Shape: []int{2}, Data: []byte{0x00, 0x80, 3, 0}},
		{Name: "i8", DType: I8, Shape: []int{2}, Data: []byte{0xff, 0x7f}},
		{Name: "u8", DType: U8, Shape: []int{2}, Data: []byte{0xff, 1}},
		{Name: "bool", DType: BOOL, Shape: []int{2}, Data: []byte{1, 0}},
		F32Tensor("scalar", nil, []float32{4.5}),
		F32Tensor("empty", []int{0, 3}, nil),
	}
	require.NoError(t, Write(path, tensors, map[string]string{"k": "v"}))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, map[string]string{"k": "v"}, f.Metadata())

	floats := map[string][]float32{
		"f16":    {1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1))},
		"bf16":   {1, -2.5},
		"f64":    {0.1, -3},
		"scalar": {4.5},
		"empty":  {},
	}
	for name, want := range floats {
		got, err := f.Float32(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	ints := map[string][]int64{
		"i64": {-1, 1 << 40, 7}, "i32": {-1, 5}, "i16": {-32768, 3},
		"i8": {-1, 127}, "u8": {255, 1}, "bool": {1, 0},
	}
	for name, want := range ints {
		got, err := f.Int64(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	small, err := f.Int32("i64small")
	require.NoError(t, err)
	assert.Equal(t, []int32{math.MinInt32, math.MaxInt32}, small)
	_, err = f.Int32("i64")
	assert.ErrorIs(t, err, ErrDType)
	assert.ErrorContains(t, err, "element 1")
	_, err = f.Int64("f16")
	assert.ErrorIs(t, err, ErrDType)
	assert.ErrorContains(t, err, `tensor "f16"`)

	nan := []byte{0x01, 0x7e} // a quiet NaN half
	assert.True(t, math.IsNaN(float64(f16ToF32(uint16(nan[0])|uint16(nan[1])<<8))))
}
