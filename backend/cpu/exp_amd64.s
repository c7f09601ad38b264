//go:build !purego

#include "textflag.h"

// Constants of Cephes' expf: range reduction x = n·ln2 + r with ln2 split
// in two, and a degree-5 polynomial; about 1 ULP of float32 over the range.
DATA expc<>+0(SB)/4, $0xc2b0c0a5 // lo: exp underflows below this: clamp
DATA expc<>+4(SB)/4, $0x3fb8aa3b // log2e: log2(e)
DATA expc<>+8(SB)/4, $0x3f000000 // half: 0.5, to round n = floor(x·log2e + 0.5)
DATA expc<>+12(SB)/4, $0x3f318000 // c1: ln2, high part (exact in 9 bits)
DATA expc<>+16(SB)/4, $0xb95e8083 // c2: ln2 − c1
DATA expc<>+20(SB)/4, $0x39506967 // p0: polynomial for exp(r) − 1 − r, r in [−ln2/2, ln2/2]
DATA expc<>+24(SB)/4, $0x3ab743ce // p1
DATA expc<>+28(SB)/4, $0x3c088908 // p2
DATA expc<>+32(SB)/4, $0x3d2aa9c1 // p3
DATA expc<>+36(SB)/4, $0x3e2aaaaa // p4
DATA expc<>+40(SB)/4, $0x3f000000 // p5
DATA expc<>+64(SB)/4, $0x3f800000 // 1.0 × 8
DATA expc<>+68(SB)/4, $0x3f800000
DATA expc<>+72(SB)/4, $0x3f800000
DATA expc<>+76(SB)/4, $0x3f800000
DATA expc<>+80(SB)/4, $0x3f800000
DATA expc<>+84(SB)/4, $0x3f800000
DATA expc<>+88(SB)/4, $0x3f800000
DATA expc<>+92(SB)/4, $0x3f800000
DATA expc<>+96(SB)/4, $0x0000007f // 127 × 8, the float32 exponent bias
DATA expc<>+100(SB)/4, $0x0000007f
DATA expc<>+104(SB)/4, $0x0000007f
DATA expc<>+108(SB)/4, $0x0000007f
DATA expc<>+112(SB)/4, $0x0000007f
DATA expc<>+116(SB)/4, $0x0000007f
DATA expc<>+120(SB)/4, $0x0000007f
DATA expc<>+124(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $128

// func expShiftAVX2(dst, x []float32, shift float32)
//
// dst[i] = exp(x[i] − shift) for the first len(dst) &^ 7 elements, eight
// lanes at a time (AVX2 + FMA). Inputs below −88.376 give 0, NaN gives NaN;
// inputs above 88.7 are not supported (the callers pass x − max ≤ 0).
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VBROADCASTSS shift+48(FP), Y15
	VBROADCASTSS expc<>+0(SB), Y14  // lo
	VBROADCASTSS expc<>+4(SB), Y13  // log2e
	VBROADCASTSS expc<>+8(SB), Y12  // 0.5
	VBROADCASTSS expc<>+12(SB), Y11 // c1
	VBROADCASTSS expc<>+16(SB), Y10 // c2
	VBROADCASTSS expc<>+20(SB), Y9  // p0
	VBROADCASTSS expc<>+24(SB), Y8  // p1
	VBROADCASTSS expc<>+28(SB), Y7  // p2
	VBROADCASTSS expc<>+32(SB), Y6  // p3
	VBROADCASTSS expc<>+36(SB), Y5  // p4
	VBROADCASTSS expc<>+40(SB), Y4  // p5
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0              // x − shift
	VMAXPS  Y0, Y14, Y0              // max(lo, x); a NaN x is kept
	VMOVAPS Y12, Y1
	VFMADD231PS Y13, Y0, Y1          // x·log2e + 0.5
	VROUNDPS $1, Y1, Y1              // n = floor(…)
	VFNMADD231PS Y11, Y1, Y0         // r = x − n·c1
	VFNMADD231PS Y10, Y1, Y0         // r −= n·c2
	VMULPS  Y0, Y0, Y2               // r²
	VMOVAPS Y9, Y3
	VFMADD213PS Y8, Y0, Y3           // p = p0·r + p1
	VFMADD213PS Y7, Y0, Y3           // p = p·r + p2
	VFMADD213PS Y6, Y0, Y3
	VFMADD213PS Y5, Y0, Y3
	VFMADD213PS Y4, Y0, Y3           // p = p·r + p5
	VFMADD213PS Y0, Y2, Y3           // p·r² + r
	VADDPS  expc<>+64(SB), Y3, Y3    // + 1
	VCVTTPS2DQ Y1, Y1                // n as int32
	VPADDD  expc<>+96(SB), Y1, Y1    // n + 127
	VPSLLD  $23, Y1, Y1              // 2ⁿ as float32 bits
	VMULPS  Y1, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
