package gguf

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/ia3/ia3/model/safetensors"
)

// supportedTypes lists the types Dequantize decodes, for messages.
const supportedTypes = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K"

// Dequantize decodes n elements of type t from raw, ggml's block layout, to
// float32 with ggml's reference arithmetic (dequantize_row_* in
// ggml-quants.c): each product and difference is rounded to float32 on its
// own, never fused, so results match ggml and gguf-py bit for bit.
func Dequantize(t Type, raw []byte, n int64) ([]float32, error) {
	tr, ok := traits[t]
	if !ok {
		return nil, fmt.Errorf("unknown ggml type %d: %w", uint32(t), ErrCorrupt)
	}
	if !tr.dequantised {
		return nil, fmt.Errorf("ggml type %s is not supported (%s are)", t, supportedTypes)
	}
	if n < 0 || n%tr.blockSize != 0 {
		return nil, fmt.Errorf("%d elements is not a whole number of %s blocks of %d: %w", n, t, tr.blockSize, ErrCorrupt)
	}
	blocks := n / tr.blockSize
	if int64(len(raw)) != blocks*tr.typeSize {
		return nil, fmt.Errorf("%d bytes for %d %s elements, want %d: %w", len(raw), n, t, blocks*tr.typeSize, ErrCorrupt)
	}
	switch t {
	case F32, F16, BF16:
		out, _ := safetensors.DecodeFloat32(map[Type]string{F32: safetensors.F32, F16: safetensors.F16, BF16: safetensors.BF16}[t], raw)
		return out, nil
	}
	block := blockDecoders[t]
	out := make([]float32, n)
	run := func(from, to int64) {
		for b := from; b < to; b++ {
			block(raw[b*tr.typeSize:(b+1)*tr.typeSize], out[b*tr.blockSize:(b+1)*tr.blockSize])
		}
	}
	// Large tensors (an 8B model's embedding is half a million blocks) are
	// decoded by several goroutines; each block is independent.
	workers := int64(runtime.GOMAXPROCS(0))
	if blocks < parallelBlocks || workers < 2 {
		run(0, blocks)
		return out, nil
	}
	var wg sync.WaitGroup
	per := (blocks + workers - 1) / workers
	for from := int64(0); from < blocks; from += per {
		wg.Add(1)
		go func(from, to int64) {
			defer wg.Done()
			run(from, to)
		}(from, min(from+per, blocks))
	}
	wg.Wait()
	return out, nil
}

// parallelBlocks is the block count from which Dequantize splits the work.
const parallelBlocks = 1 << 14

// blockDecoders decode one block of each quantised type.
var blockDecoders = map[Type]func(src []byte, dst []float32){
	Q8_0: dequantQ8_0, Q4_0: dequantQ4_0, Q4_1: dequantQ4_1, Q5_0: dequantQ5_0, Q5_1: dequantQ5_1,
	Q2_K: dequantQ2K, Q3_K: dequantQ3K, Q4_K: dequantQ4K, Q5_K: dequantQ5K, Q6_K: dequantQ6K,
}

// half reads an IEEE half at the start of b.
func half(b []byte) float32 { return halfToFloat(binary.LittleEndian.Uint16(b)) }

// halfToFloat widens an IEEE half exactly.
func halfToFloat(h uint16) float32 {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], h)
	v, _ := safetensors.DecodeFloat32(safetensors.F16, b[:])
	return v[0]
}

// mul is a*b rounded to float32; the explicit conversion keeps the
// compiler from fusing it with a following add (as arm64 may).
func mul(a, b float32) float32 { return float32(a * b) }

// dequantQ8_0 decodes block_q8_0: f16 scale d, 32 int8 codes; x = q·d.
func dequantQ8_0(src []byte, dst []float32) {
	d := half(src)
	for i := range 32 {
		dst[i] = float32(int8(src[2+i])) * d
	}
}

// dequantQ4_0 decodes block_q4_0: f16 scale d, 16 bytes of nibbles; the low
// nibbles are elements 0–15, the high ones 16–31; x = (q−8)·d.
func dequantQ4_0(src []byte, dst []float32) {
	d := half(src)
	qs := src[2:18]
	for j := range 16 {
		dst[j] = float32(int(qs[j]&0x0f)-8) * d
		dst[j+16] = float32(int(qs[j]>>4)-8) * d
	}
}

// dequantQ4_1 decodes block_q4_1: f16 scale d and min m, 16 bytes of
// nibbles as Q4_0; x = q·d + m.
func dequantQ4_1(src []byte, dst []float32) {
	d, m := half(src), half(src[2:])
	qs := src[4:20]
	for j := range 16 {
		dst[j] = mul(float32(qs[j]&0x0f), d) + m
		dst[j+16] = mul(float32(qs[j]>>4), d) + m
	}
}

// q5High returns element j's fifth bit (bit j of the little-endian qh).
func q5High(qh uint32, j int) uint8 { return uint8(qh>>j&1) << 4 }

// dequantQ5_0 decodes block_q5_0: f16 d, 32 fifth bits, 16 bytes of
// nibbles; x = (q−16)·d.
func dequantQ5_0(src []byte, dst []float32) {
	d := half(src)
	qh := binary.LittleEndian.Uint32(src[2:])
	qs := src[6:22]
	for j := range 16 {
		dst[j] = float32(int(qs[j]&0x0f|q5High(qh, j))-16) * d
		dst[j+16] = float32(int(qs[j]>>4|q5High(qh, j+16))-16) * d
	}
}

// dequantQ5_1 decodes block_q5_1: f16 d and m, 32 fifth bits, 16 bytes of
// nibbles; x = q·d + m.
func dequantQ5_1(src []byte, dst []float32) {
	d, m := half(src), half(src[2:])
	qh := binary.LittleEndian.Uint32(src[4:])
	qs := src[8:24]
	for j := range 16 {
		dst[j] = mul(float32(qs[j]&0x0f|q5High(qh, j)), d) + m
		dst[j+16] = mul(float32(qs[j]>>4|q5High(qh, j+16)), d) + m
	}
}

// dequantQ2K decodes block_q2_K: 16 bytes of 4-bit scale and min pairs,
// 64 bytes of 2-bit codes, f16 d and dmin; each 32 code bytes hold eight
// sub-blocks of 16 at shifts 0, 2, 4, 6; x = d·sc·q − dmin·m.
func dequantQ2K(src []byte, dst []float32) {
	scales, q := src[0:16], src[16:80]
	d, dmin := half(src[80:]), half(src[82:])
	is, y := 0, 0
	for n := 0; n < 2; n++ {
		for shift := uint(0); shift < 8; shift += 2 {
			for h := 0; h < 2; h++ {
				sc := scales[is]
				is++
				dl, ml := mul(d, float32(sc&0x0f)), mul(dmin, float32(sc>>4))
				for l := range 16 {
					dst[y] = mul(dl, float32(q[32*n+16*h+l]>>shift&3)) - ml
					y++
				}
			}
		}
	}
}

// q3Scales unpacks Q3_K's sixteen 6-bit scales (minus 32) from 12 bytes:
// low nibbles in bytes 0–7, the high two bits in bytes 8–11.
func q3Scales(b []byte) [16]int8 {
	var out [16]int8
	for i := range 16 {
		lo := b[i%8] >> (4 * (i / 8)) & 0x0f
		hi := b[8+i%4] >> (2 * (i / 4)) & 0x03
		out[i] = int8(lo|hi<<4) - 32
	}
	return out
}

// dequantQ3K decodes block_q3_K: 32 bytes of high-bit masks, 64 bytes of
// 2-bit codes, 12 bytes of packed scales and f16 d; a code whose mask bit
// is clear is lowered by 4; x = d·sc·q.
func dequantQ3K(src []byte, dst []float32) {
	hm, q, sc := src[0:32], src[32:96], q3Scales(src[96:108])
	d := half(src[108:])
	is, y := 0, 0
	bit := uint(0)
	for n := 0; n < 2; n++ {
		for shift := uint(0); shift < 8; shift += 2 {
			for h := 0; h < 2; h++ {
				dl := mul(d, float32(sc[is]))
				is++
				for l := range 16 {
					v := int8(q[32*n+16*h+l] >> shift & 3)
					if hm[16*h+l]>>bit&1 == 0 {
						v -= 4
					}
					dst[y] = mul(dl, float32(v))
					y++
				}
			}
			bit++
		}
	}
}

// scaleMinK4 unpacks sub-block j's 6-bit scale and min from the 12 packed
// bytes of a Q4_K/Q5_K block (get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0x0f) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

// pairScales returns sub-block j's effective scale d·sc and offset dmin·m.
func pairScales(j int, scales []byte, d, dmin float32) (float32, float32) {
	sc, m := scaleMinK4(j, scales)
	return mul(d, float32(sc)), mul(dmin, float32(m))
}

// dequantQ4K decodes block_q4_K: f16 d and dmin, 12 bytes of packed 6-bit
// scales and mins for eight sub-blocks of 32, 128 bytes of nibbles (each 32
// bytes hold two sub-blocks: low nibbles then high); x = d·sc·q − dmin·m.
func dequantQ4K(src []byte, dst []float32) {
	d, dmin := half(src), half(src[2:])
	scales, q := src[4:16], src[16:144]
	for j, is := 0, 0; j < qk; j, is = j+64, is+2 {
		d1, m1 := pairScales(is, scales, d, dmin)
		d2, m2 := pairScales(is+1, scales, d, dmin)
		for l := range 32 {
			dst[j+l] = mul(d1, float32(q[l]&0x0f)) - m1
			dst[j+32+l] = mul(d2, float32(q[l]>>4)) - m2
		}
		q = q[32:]
	}
}

// dequantQ5K decodes block_q5_K: as Q4_K with a fifth bit per element from
// the 32 bytes of qh (bit 2i for the low sub-block of pair i, 2i+1 for the
// high one).
func dequantQ5K(src []byte, dst []float32) {
	d, dmin := half(src), half(src[2:])
	scales, qh, ql := src[4:16], src[16:48], src[48:176]
	u1, u2 := uint8(1), uint8(2)
	for j, is := 0, 0; j < qk; j, is = j+64, is+2 {
		d1, m1 := pairScales(is, scales, d, dmin)
		d2, m2 := pairScales(is+1, scales, d, dmin)
		for l := range 32 {
			lo, hi := ql[l]&0x0f, ql[l]>>4
			if qh[l]&u1 != 0 {
				lo += 16
			}
			if qh[l]&u2 != 0 {
				hi += 16
			}
			dst[j+l] = mul(d1, float32(lo)) - m1
			dst[j+32+l] = mul(d2, float32(hi)) - m2
		}
		ql = ql[32:]
		u1 <<= 2
		u2 <<= 2
	}
}

// dequantQ6K decodes block_q6_K: 128 bytes of low nibbles, 64 bytes of
// high 2-bit pairs, 16 int8 scales (one per 16 elements) and f16 d;
// x = d·sc·(q−32).
func dequantQ6K(src []byte, dst []float32) {
	ql, qh, sc := src[0:128], src[128:192], src[192:208]
	d := half(src[208:])
	for n := 0; n < qk; n += 128 {
		for l := range 32 {
			is := l / 16
			q1 := int8((ql[l]&0x0f)|((qh[l]>>0)&3)<<4) - 32
			q2 := int8((ql[l+32]&0x0f)|((qh[l]>>2)&3)<<4) - 32
			q3 := int8((ql[l]>>4)|((qh[l]>>4)&3)<<4) - 32
			q4 := int8((ql[l+32]>>4)|((qh[l]>>6)&3)<<4) - 32
			dst[n+l] = mul(mul(d, float32(int8(sc[is]))), float32(q1))
			dst[n+l+32] = mul(mul(d, float32(int8(sc[is+2]))), float32(q2))
			dst[n+l+64] = mul(mul(d, float32(int8(sc[is+4]))), float32(q3))
			dst[n+l+96] = mul(mul(d, float32(int8(sc[is+6]))), float32(q4))
		}
		ql, qh, sc = ql[64:], qh[32:], sc[8:]
	}
}
