package model

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHalfRounding(t *testing.T) {
	tests := []struct {
		in       float32
		f16, b16 uint16
	}{
		{0, 0x0000, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3c00, 0x3f80},
		{-2.5, 0xc100, 0xc020},
		{65504, 0x7bff, 0x4780},
		{70000, 0x7c00, 0x4789},                            // f16 overflows to +Inf
		{float32(math.Inf(-1)), 0xfc00, 0xff80},            // -Inf
		{5.960464477539063e-08, 0x0001, 0x3380},            // smallest f16 subnormal
		{2.980232238769531e-08, 0x0000, 0x3300},            // half of it: tie to even (0)
		{1.0009765625, 0x3c01, 0x3f80},                     // exact f16; bf16 rounds down
		{1.00048828125, 0x3c00, 0x3f80},                    // f16 tie to even
		{1.00146484375, 0x3c02, 0x3f80},                    // f16 tie rounds up to even
		{float32(1.0 + 1.0/128 + 1.0/256), 0x3c0c, 0x3f82}, // bf16 tie rounds to even (up)
	}
	for _, tt := range tests {
		assert.Equal(t, tt.f16, f32ToF16(tt.in), "f16 of %g", tt.in)
		assert.Equal(t, tt.b16, f32ToBF16(tt.in), "bf16 of %g", tt.in)
	}
	assert.Equal(t, uint16(0x7e00), f32ToF16(float32(math.NaN()))&0x7e00)
	assert.True(t, f32ToBF16(float32(math.NaN()))&0x7f80 == 0x7f80 && f32ToBF16(float32(math.NaN()))&0x7f != 0)
}
