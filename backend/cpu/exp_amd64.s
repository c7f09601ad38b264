//go:build !purego

#include "textflag.h"

// Constants of Cephes' expf (range reduction x = n·ln2 + r with ln2 split
// in two, then a degree-5 polynomial: about 1 ULP of float32), and of GELU.
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
DATA expc<>+44(SB)/4, $0x3f800000 // one
DATA expc<>+48(SB)/4, $0x0000007f // 127, the float32 exponent bias (int32)
DATA expc<>+52(SB)/4, $0x42b0c0a5 // hi: exp overflows above this: clamp
DATA expc<>+56(SB)/4, $0x3d372713 // gc: GELU's cubic coefficient
DATA expc<>+60(SB)/4, $0xbfcc422a // gneg: −2·√(2/π)
DATA expc<>+64(SB)/4, $0x3fcc422a // gpos: 2·√(2/π)
DATA expc<>+68(SB)/4, $0x3e095d4f // g3c: 3·0.044715
GLOBL expc<>(SB), RODATA|NOPTR, $72

// LOADEXP broadcasts the exponential's constants into Y4–Y14.
#define LOADEXP \
	VBROADCASTSS expc<>+0(SB), Y14; \
	VBROADCASTSS expc<>+4(SB), Y13; \
	VBROADCASTSS expc<>+8(SB), Y12; \
	VBROADCASTSS expc<>+12(SB), Y11; \
	VBROADCASTSS expc<>+16(SB), Y10; \
	VBROADCASTSS expc<>+20(SB), Y9; \
	VBROADCASTSS expc<>+24(SB), Y8; \
	VBROADCASTSS expc<>+28(SB), Y7; \
	VBROADCASTSS expc<>+32(SB), Y6; \
	VBROADCASTSS expc<>+36(SB), Y5; \
	VBROADCASTSS expc<>+40(SB), Y4

// EXP8 sets Y3 = exp(Y0) lane-wise, clobbering Y0–Y2: x = max(x, lo)
// (a NaN stays NaN), n = floor(x·log2e + 0.5), r = x − n·ln2,
// p = 1 + r + r²·P(r), then p·2ⁿ with 2ⁿ built from its exponent bits.
#define EXP8 \
	VMAXPS       Y0, Y14, Y0; \
	VMOVAPS      Y12, Y1; \
	VFMADD231PS  Y13, Y0, Y1; \
	VROUNDPS     $1, Y1, Y1; \
	VFNMADD231PS Y11, Y1, Y0; \
	VFNMADD231PS Y10, Y1, Y0; \
	VMULPS       Y0, Y0, Y2; \
	VMOVAPS      Y9, Y3; \
	VFMADD213PS  Y8, Y0, Y3; \
	VFMADD213PS  Y7, Y0, Y3; \
	VFMADD213PS  Y6, Y0, Y3; \
	VFMADD213PS  Y5, Y0, Y3; \
	VFMADD213PS  Y4, Y0, Y3; \
	VFMADD213PS  Y0, Y2, Y3; \
	VBROADCASTSS expc<>+44(SB), Y2; \
	VADDPS       Y2, Y3, Y3; \
	VCVTTPS2DQ   Y1, Y1; \
	VPBROADCASTD expc<>+48(SB), Y2; \
	VPADDD       Y2, Y1, Y1; \
	VPSLLD       $23, Y1, Y1; \
	VMULPS       Y1, Y3, Y3

// GELUARG sets Y0 = −2·√(2/π)·(x + 0.044715·x³) for x in Y15, clamped to
// at most hi so that exp(Y0) stays finite; clobbers Y1.
#define GELUARG \
	VMULPS       Y15, Y15, Y0; \
	VBROADCASTSS expc<>+56(SB), Y1; \
	VMULPS       Y1, Y0, Y0; \
	VFMADD213PS  Y15, Y15, Y0; \
	VBROADCASTSS expc<>+60(SB), Y1; \
	VMULPS       Y1, Y0, Y0; \
	VBROADCASTSS expc<>+52(SB), Y1; \
	VMINPS       Y1, Y0, Y0

// ENTER loads dst's base and length and x's base into DI, CX and SI and the
// exponential's constants, leaving in CX the number of 8-lane blocks; it
// jumps to done when there are none.
#define ENTER(done) \
	MOVQ dst_base+0(FP), DI; \
	MOVQ dst_len+8(FP), CX; \
	MOVQ x_base+24(FP), SI; \
	LOADEXP; \
	SHRQ $3, CX; \
	JZ   done

// NEXT advances DI and SI by one block and loops while blocks remain.
#define NEXT(loop) \
	ADDQ $32, SI; \
	ADDQ $32, DI; \
	DECQ CX; \
	JNZ  loop

// func expShiftAVX2(dst, x []float32, shift float32)
//
// dst[i] = exp(x[i] − shift) for the first len(dst) &^ 7 elements, eight
// lanes at a time (AVX2 + FMA). Inputs below −88.376 give 0, NaN gives NaN;
// inputs above 88.376 are not supported (the callers pass x − max ≤ 0).
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-52
	VBROADCASTSS shift+48(FP), Y15
	ENTER(edone)

eloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP8
	VMOVUPS Y3, (DI)
	NEXT(eloop)

edone:
	VZEROUPPER
	RET

// func geluTanhAVX2(dst, x []float32)
//
// dst[i] = x·σ(2u) = x / (1 + exp(−2u)) with u = √(2/π)·(x + 0.044715·x³),
// which equals 0.5·x·(1 + tanh(u)), for the first len(dst) &^ 7 elements.
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-48
	ENTER(gdone)

gloop:
	VMOVUPS (SI), Y15
	GELUARG
	EXP8
	VBROADCASTSS expc<>+44(SB), Y1
	VADDPS  Y1, Y3, Y3               // 1 + e
	VDIVPS  Y3, Y15, Y3              // x / (1 + e)
	VMOVUPS Y3, (DI)
	NEXT(gloop)

gdone:
	VZEROUPPER
	RET

// func geluTanhGradAVX2(dst, x, dy []float32)
//
// dst[i] = dy[i]·gelu′(x[i]) for the first len(dst) &^ 7 elements, with
// s = σ(2u) = 1/(1 + e), e = exp(−2u):
// gelu′(x) = s + 2·x·s·(1 − s)·u′ = s + (e·s)·s·x·2√(2/π)·(1 + 3·0.044715·x²).
TEXT ·geluTanhGradAVX2(SB), NOSPLIT, $0-72
	MOVQ dy_base+48(FP), DX
	ENTER(bdone)

bloop:
	VMOVUPS (SI), Y15
	GELUARG
	EXP8                             // Y3 = e
	VBROADCASTSS expc<>+44(SB), Y1   // 1
	VADDPS  Y1, Y3, Y0               // 1 + e
	VDIVPS  Y0, Y1, Y1               // s
	VMULPS  Y1, Y3, Y3               // e·s
	VMULPS  Y1, Y3, Y3               // e·s²
	VMULPS  Y15, Y3, Y3              // e·s²·x
	VMULPS  Y15, Y15, Y2             // x²
	VBROADCASTSS expc<>+68(SB), Y0   // 3c
	VBROADCASTSS expc<>+44(SB), Y15  // 1 (x is no longer needed)
	VFMADD213PS Y15, Y0, Y2          // 1 + 3c·x²
	VBROADCASTSS expc<>+64(SB), Y0   // 2√(2/π)
	VMULPS  Y0, Y2, Y2
	VFMADD213PS Y1, Y2, Y3           // s + e·s²·x·2√(2/π)·(1 + 3c·x²)
	VMULPS  (DX), Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DX
	NEXT(bloop)

bdone:
	VZEROUPPER
	RET
