package quant

// quantizeNF4 encodes x in NF4 with double quantization, as bitsandbytes'
// quantize_4bit(quant_type="nf4", blocksize=64, compress_statistics=True):
// per block the absmax and the nearest NF4 code of x/absmax; then the block
// absmax values less their mean, quantized to the dynamic 8-bit code per
// group of 256 blocks.
func quantizeNF4(out []byte, x []float32, l Layout) {
	codes := out[:l.CodesBytes]
	absmax := make([]float32, l.Blocks)
	forBlocks(l.Blocks, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			blk := x[b*NF4BlockSize : (b+1)*NF4BlockSize]
			var a float32
			for _, v := range blk {
				a = max(a, abs32(v))
			}
			absmax[b] = a
			for j := 0; j < NF4BlockSize; j += 2 {
				hi, lo := nf4Code(blk[j], a), nf4Code(blk[j+1], a)
				codes[(b*NF4BlockSize+j)/2] = hi<<4 | lo
			}
		}
	})
	var sum float64 // in block order, whatever the split above
	for _, a := range absmax {
		sum += float64(a)
	}
	offset := float32(sum / float64(l.Blocks))
	put32(out[l.OffsetOffset:], offset)
	d8 := dynamic8()
	zero := byte(nearest(d8[:], 0))
	acodes := out[l.ScalesOffset : l.ScalesOffset+l.Blocks]
	for g := range l.Groups {
		group := absmax[g*NF4GroupBlocks : min(l.Blocks, (g+1)*NF4GroupBlocks)]
		var s float32
		for _, a := range group {
			s = max(s, abs32(a-offset))
		}
		put32(out[l.GroupsOffset+4*g:], s)
		for k, a := range group {
			c := zero
			if s != 0 {
				c = byte(nearest(d8[:], (a-offset)/s))
			}
			acodes[g*NF4GroupBlocks+k] = c
		}
	}
}

// nf4Code returns the NF4 code of v in a block of absmax a (0 when a is 0):
// the nearest table value to v/a, ties to the lower index, found by
// comparing with the exact midpoints (as nearest does, unrolled).
func nf4Code(v, a float32) byte {
	if a == 0 {
		return 0
	}
	x := float64(v / a)
	c := 0
	for _, step := range [4]int{8, 4, 2, 1} {
		if i := c + step - 1; i < 15 && x > nf4Mids[i] {
			c += step
		}
	}
	return byte(c)
}

// nf4Mids are the midpoints of neighbouring NF4 values, exact in float64.
var nf4Mids = func() (m [15]float64) {
	for i := range m {
		m[i] = (float64(nf4[i]) + float64(nf4[i+1])) / 2
	}
	return m
}()

// nf4Absmax returns block b's dequantized absmax:
// Dynamic8[acode]·s_group + offset, in float32, in that order.
func (m Matrix) nf4Absmax(d8 *[256]float32, b int) float32 {
	s := le32(m.data[m.GroupsOffset+4*(b/NF4GroupBlocks):])
	return float32(d8[m.data[m.ScalesOffset+b]]*s) + m.offset
}

// rowNF4 dequantizes n values of row r from column c0 of an NF4 matrix into
// dst, stride apart.
func (m Matrix) rowNF4(dst []float32, stride, r, c0, n int) {
	d8 := dynamic8()
	e, end, o := r*m.Cols+c0, r*m.Cols+c0+n, 0
	for e < end {
		b := e / NF4BlockSize
		k := min(end, (b+1)*NF4BlockSize)
		a := m.nf4Absmax(d8, b)
		var lut [16]float32 // NF4[i]·A, each rounded once as the spec says
		for i, v := range nf4 {
			lut[i] = v * a
		}
		if e&1 == 1 { // a low nibble first
			dst[o] = lut[m.data[e/2]&15]
			o += stride
			e++
		}
		for ; e+1 < k; e += 2 {
			q := m.data[e/2]
			dst[o] = lut[q>>4]
			dst[o+stride] = lut[q&15]
			o += 2 * stride
		}
		if e < k { // a high nibble last
			dst[o] = lut[m.data[e/2]>>4]
			o += stride
			e++
		}
	}
}
