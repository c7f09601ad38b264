//go:build arm64

#include "textflag.h"

// The NEON micro-kernel for gemm_kernel_arm64.go, fully unrolled over its
// 8×12 tile: the contract is kernel's (gemm_kernel.go). The accumulators
// start from C (beta = 1) or zero (first, beta = 0: C is not read); each k
// step loads one row of the packed B panel (three q registers), replicates
// each value of the packed A column in turn (LD1R) and fuses a multiply-add
// into that row's accumulators; the tile is then stored. (Go's assembler has
// neither by-element FMLA nor vector FADD, hence LD1R and starting from C.)
// Registers: R4 counts k, R0 walks A, R1 walks B, R2 and R6 walk the rows of
// C, R3 is ldc in bytes; V0–V23 hold the tile, V24–V26 the B row,
// V27–V31 the replicated A values.

// Load (beta = 1) or store one row of the tile, stepping to the next row.
#define LOAD_ROW(c0, c1, c2) VLD1 (R6), [c0, c1, c2]; ADD R3, R6, R6
#define STORE_ROW(c0, c1, c2) VST1 [c0, c1, c2], (R2); ADD R3, R2, R2

// Zero one row of the tile (beta = 0).
#define ZERO_ROW(c0, c1, c2) VEOR c0, c0, c0; VEOR c1, c1, c1; VEOR c2, c2, c2

// One row of a k step: replicate the next value of A into bc and add
// bc·(V24, V25, V26) into that row's accumulators.
#define FMA_ROW(bc, c0, c1, c2) \
	VLD1R.P 4(R0), [bc]; VFMLA V24.S4, bc, c0; VFMLA V25.S4, bc, c1; VFMLA V26.S4, bc, c2

// func sgemmNEON(kb int, a, b, c *float32, ldc int, first bool)
TEXT ·sgemmNEON(SB), NOSPLIT, $0-41
	MOVD kb+0(FP), R4
	MOVD a+8(FP), R0
	MOVD b+16(FP), R1
	MOVD c+24(FP), R2
	MOVD ldc+32(FP), R3
	LSL $2, R3, R3
	MOVBU first+40(FP), R5
	MOVD R2, R6
	CBNZ R5, neon_zero
	LOAD_ROW(V0.S4, V1.S4, V2.S4); LOAD_ROW(V3.S4, V4.S4, V5.S4)
	LOAD_ROW(V6.S4, V7.S4, V8.S4); LOAD_ROW(V9.S4, V10.S4, V11.S4)
	LOAD_ROW(V12.S4, V13.S4, V14.S4); LOAD_ROW(V15.S4, V16.S4, V17.S4)
	LOAD_ROW(V18.S4, V19.S4, V20.S4); LOAD_ROW(V21.S4, V22.S4, V23.S4)
	B neon_check

neon_zero:
	ZERO_ROW(V0.B16, V1.B16, V2.B16); ZERO_ROW(V3.B16, V4.B16, V5.B16)
	ZERO_ROW(V6.B16, V7.B16, V8.B16); ZERO_ROW(V9.B16, V10.B16, V11.B16)
	ZERO_ROW(V12.B16, V13.B16, V14.B16); ZERO_ROW(V15.B16, V16.B16, V17.B16)
	ZERO_ROW(V18.B16, V19.B16, V20.B16); ZERO_ROW(V21.B16, V22.B16, V23.B16)

neon_check:
	CBZ R4, neon_store

neon_loop:
	VLD1.P 48(R1), [V24.S4, V25.S4, V26.S4]
	FMA_ROW(V27.S4, V0.S4, V1.S4, V2.S4)
	FMA_ROW(V28.S4, V3.S4, V4.S4, V5.S4)
	FMA_ROW(V29.S4, V6.S4, V7.S4, V8.S4)
	FMA_ROW(V30.S4, V9.S4, V10.S4, V11.S4)
	FMA_ROW(V31.S4, V12.S4, V13.S4, V14.S4)
	FMA_ROW(V27.S4, V15.S4, V16.S4, V17.S4)
	FMA_ROW(V28.S4, V18.S4, V19.S4, V20.S4)
	FMA_ROW(V29.S4, V21.S4, V22.S4, V23.S4)
	SUB $1, R4, R4
	CBNZ R4, neon_loop

neon_store:
	STORE_ROW(V0.S4, V1.S4, V2.S4); STORE_ROW(V3.S4, V4.S4, V5.S4)
	STORE_ROW(V6.S4, V7.S4, V8.S4); STORE_ROW(V9.S4, V10.S4, V11.S4)
	STORE_ROW(V12.S4, V13.S4, V14.S4); STORE_ROW(V15.S4, V16.S4, V17.S4)
	STORE_ROW(V18.S4, V19.S4, V20.S4); STORE_ROW(V21.S4, V22.S4, V23.S4)
	RET
