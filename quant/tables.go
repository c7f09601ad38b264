package quant

import (
	"math/big"
	"slices"
	"sync"
)

// nf4 is bitsandbytes' 4-bit NormalFloat code (functional.py get_4bit_type
// "nf4"), as float32, index 0..15 ascending.
var nf4 = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// NF4Table returns the 16 NF4 values, ascending: code i means
// NF4Table()[i]·absmax.
func NF4Table() [16]float32 { return nf4 }

// dynamic8 is computed once; the array is never written after.
var dynamic8 = sync.OnceValue(createDynamicMap)

// Dynamic8Table returns the 256 values of bitsandbytes'
// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), the
// code NF4's double quantization stores block absmax values in, ascending.
func Dynamic8Table() [256]float32 { return *dynamic8() }

// createDynamicMap computes the dynamic map as bitsandbytes does in float32:
// for exponent i = 0..6, the 2^i midpoints of torch.linspace(0.1, 1, 2^i+1)
// scaled by ±10^(i−6), then 0 and 1, sorted. linspace follows torch's CPU
// kernel as its float32 build runs it: step = (end − start)/(steps − 1);
// the first half is fma(step, i, start), the second fma(−step, steps−1−i,
// end), each rounded once (the compiler contracts the kernel's
// start + step·i). That reproduces the table torch prints bit for bit
// (listed in tables_test.go); rounding twice instead changes 42 entries in
// their last bit.
func createDynamicMap() *[256]float32 {
	var data []float32
	const maxExp = 7
	for i := range maxExp {
		steps := 1<<i + 1
		bnd := linspace32(0.1, 1, steps)
		scale := float32(pow10(i - (maxExp - 1)))
		for j := range steps - 1 {
			mean := float32(bnd[j]+bnd[j+1]) / 2
			data = append(data, float32(scale*mean))
		}
		for j := range steps - 1 {
			mean := float32(bnd[j]+bnd[j+1]) / 2
			data = append(data, float32(-scale*mean))
		}
	}
	data = append(data, 0, 1)
	var out [256]float32
	copy(out[:], data)
	slices.Sort(out[:])
	return &out
}

// linspace32 is torch.linspace(start, end, steps, dtype=float32) on the CPU.
func linspace32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = fma32(step, float32(i), start)
		} else {
			out[i] = fma32(-step, float32(steps-i-1), end)
		}
	}
	return out
}

// fma32 returns a·b + c rounded once to float32 (exact big.Float
// arithmetic, then one rounding to nearest even).
func fma32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

// pow10 returns 10^e as Python's 10 ** e does for small integers.
func pow10(e int) float64 {
	p := 1.0
	for range -e {
		p *= 10
	}
	if e < 0 {
		return 1 / p
	}
	for range e {
		p *= 10
	}
	return p
}

// nearest returns the index of the value of the ascending table t nearest
// to x, ties to the lower index. Midpoints are exact in float64, so the
// choice is the same on every platform.
func nearest(t []float32, x float32) int {
	lo, hi := 0, len(t)-1
	v := float64(x)
	// Binary search for the first i with v <= mid(i, i+1).
	for lo < hi {
		i := (lo + hi) / 2
		if v <= (float64(t[i])+float64(t[i+1]))/2 {
			hi = i
		} else {
			lo = i + 1
		}
	}
	return lo
}
