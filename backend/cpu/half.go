package cpu

import (
	"math"

	"github.com/ia3/ia3/quant"
)

// bf16ToF32 widens a bfloat16: its bits are the high half of a float32.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f16ToF32 widens an IEEE 754 half-precision value exactly, subnormals,
// infinities and NaN payloads included (quant's conversion, which Q8_0
// scales use too).
func f16ToF32(h uint16) float32 { return quant.HalfToFloat32(h) }
