package quant

import "math"

// quantizeQ8 encodes x in Q8_0 as ggml's quantize_row_q8_0_ref does: per
// block of 32, d = amax/127, code = round(x·(1/d)) half away from zero
// (clamped to ±127), scale = float16(d).
func quantizeQ8(out []byte, x []float32, l Layout) {
	codes := out[:l.CodesBytes]
	scales := out[l.ScalesOffset:]
	forBlocks(l.Blocks, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			blk := x[b*Q8BlockSize : (b+1)*Q8BlockSize]
			var amax float32
			for _, v := range blk {
				amax = max(amax, abs32(v))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			for j, v := range blk {
				q := math.Round(float64(float32(v * id)))
				codes[b*Q8BlockSize+j] = byte(int8(max(-127, min(127, q))))
			}
			h := Float32ToHalf(d)
			scales[2*b], scales[2*b+1] = byte(h), byte(h>>8)
		}
	})
}

// rowQ8 dequantizes n values of row r from column c0 of a Q8_0 matrix into
// dst, stride apart.
func (m Matrix) rowQ8(dst []float32, stride, r, c0, n int) {
	codes := m.data[r*m.Cols+c0 : r*m.Cols+c0+n]
	scales := m.data[m.ScalesOffset+2*(r*m.Cols/Q8BlockSize):]
	c, o := c0, 0
	for len(codes) > 0 {
		j := c / Q8BlockSize
		k := min(len(codes), (j+1)*Q8BlockSize-c)
		d := HalfToFloat32(uint16(scales[2*j]) | uint16(scales[2*j+1])<<8)
		for _, q := range codes[:k] {
			dst[o] = d * float32(int8(q))
			o += stride
		}
		codes, c = codes[k:], c+k
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
