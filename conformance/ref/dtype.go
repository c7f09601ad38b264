package ref

import "math"

// F16 decodes an IEEE 754 binary16 value given by its bits: sign, 5
// exponent bits biased by 15, 10 mantissa bits; exponent 0 is subnormal
// (mantissa·2⁻²⁴) and exponent 31 is infinity or NaN.
func F16(bits uint16) float64 {
	sign := 1.0
	if bits&0x8000 != 0 {
		sign = -1
	}
	exp := int(bits>>10) & 0x1f
	man := float64(bits & 0x3ff)
	switch exp {
	case 0:
		return sign * man * math.Pow(2, -24)
	case 31:
		if man != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * (1 + man/1024) * math.Pow(2, float64(exp-15))
}

// BF16 decodes a bfloat16 value given by its bits: the upper half of a
// float32 (sign, 8 exponent bits biased by 127, 7 mantissa bits).
func BF16(bits uint16) float64 {
	sign := 1.0
	if bits&0x8000 != 0 {
		sign = -1
	}
	exp := int(bits>>7) & 0xff
	man := float64(bits & 0x7f)
	switch exp {
	case 0:
		return sign * man * math.Pow(2, -133)
	case 255:
		if man != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * (1 + man/128) * math.Pow(2, float64(exp-127))
}
