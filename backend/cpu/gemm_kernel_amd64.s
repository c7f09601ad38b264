//go:build amd64

#include "textflag.h"

// Register-blocked micro-kernels for gemm_kernel_amd64.go, fully unrolled
// over the tile: the contract is kernel's (gemm_kernel.go). Each k step loads
// one row of the packed B panel into vector registers, broadcasts each value
// of the packed A column in turn and fuses a multiply-add into the
// accumulators of that row of C; after kb steps the tile is stored (first)
// or added to C. The AVX-512 loop also prefetches B eight k steps (1 KiB)
// and A eight steps (384 bytes) ahead: tall products stream B micro-panels
// from L2 and A micro-panels from L3, which the hardware prefetchers alone
// left the kernel waiting for (3–8% on the 2-core Xeon, same-minute rounds
// in docs/measurements/cpu-2026-12-06b; prefetches past a panel's end are
// harmless hints). Registers: CX counts k, SI walks A, DI walks B, DX walks the
// rows of C, R8 is ldc in bytes, R10 walks C for the prefetches.

// Load the arguments, ldc scaled to bytes.
#define LOAD_ARGS \
	MOVQ kb+0(FP), CX; MOVQ a+8(FP), SI; MOVQ b+16(FP), DI; MOVQ c+24(FP), DX; \
	MOVQ ldc+32(FP), R8; SHLQ $2, R8; MOVQ DX, R10

// Prefetch one row of the C tile (two cache lines) and step to the next, so
// the rows are in cache when the tile is stored after the k loop.
#define PREFETCH_ROW PREFETCHT0 (R10); PREFETCHT0 64(R10); ADDQ R8, R10

// One row r of a k step: broadcast A[k, r] (at byte off) into bc and add
// bc·(b0, b1) into that row's two accumulators.
#define FMA_ROW(off, bc, b0, b1, c0, c1) \
	VBROADCASTSS off(SI), bc; VFMADD231PS b0, bc, c0; VFMADD231PS b1, bc, c1

// Add a row of the tile to C and store it (w = vector width in bytes), or
// only store it; then step to the next row.
#define ADD_ROW(w, c0, c1) \
	VADDPS (DX), c0, c0; VADDPS w(DX), c1, c1; VMOVUPS c0, (DX); VMOVUPS c1, w(DX); ADDQ R8, DX
#define STORE_ROW(w, c0, c1) VMOVUPS c0, (DX); VMOVUPS c1, w(DX); ADDQ R8, DX

// func sgemmAVX512(kb int, a, b, c *float32, ldc int, first bool)
// 12×32 tile in Z0–Z23 (two zmm per row of C), B row in Z24–Z25,
// broadcasts of A in Z26–Z31. Needs AVX-512F (VPXORD, not VXORPS, which
// would need AVX512DQ).
TEXT ·sgemmAVX512(SB), NOSPLIT, $0-41
	LOAD_ARGS
	PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW
	PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW
	VPXORD Z0, Z0, Z0; VPXORD Z1, Z1, Z1; VPXORD Z2, Z2, Z2; VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4; VPXORD Z5, Z5, Z5; VPXORD Z6, Z6, Z6; VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8; VPXORD Z9, Z9, Z9; VPXORD Z10, Z10, Z10; VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12; VPXORD Z13, Z13, Z13; VPXORD Z14, Z14, Z14; VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16; VPXORD Z17, Z17, Z17; VPXORD Z18, Z18, Z18; VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20; VPXORD Z21, Z21, Z21; VPXORD Z22, Z22, Z22; VPXORD Z23, Z23, Z23
	TESTQ CX, CX
	JZ avx512_store

avx512_loop:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	PREFETCHT0 1024(DI)
	PREFETCHT0 1088(DI)
	PREFETCHT0 384(SI)
	FMA_ROW(0, Z26, Z24, Z25, Z0, Z1)
	FMA_ROW(4, Z27, Z24, Z25, Z2, Z3)
	FMA_ROW(8, Z28, Z24, Z25, Z4, Z5)
	FMA_ROW(12, Z29, Z24, Z25, Z6, Z7)
	FMA_ROW(16, Z30, Z24, Z25, Z8, Z9)
	FMA_ROW(20, Z31, Z24, Z25, Z10, Z11)
	FMA_ROW(24, Z26, Z24, Z25, Z12, Z13)
	FMA_ROW(28, Z27, Z24, Z25, Z14, Z15)
	FMA_ROW(32, Z28, Z24, Z25, Z16, Z17)
	FMA_ROW(36, Z29, Z24, Z25, Z18, Z19)
	FMA_ROW(40, Z30, Z24, Z25, Z20, Z21)
	FMA_ROW(44, Z31, Z24, Z25, Z22, Z23)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ avx512_loop

avx512_store:
	MOVBQZX first+40(FP), R9
	TESTQ R9, R9
	JNZ avx512_overwrite
	ADD_ROW(64, Z0, Z1); ADD_ROW(64, Z2, Z3); ADD_ROW(64, Z4, Z5); ADD_ROW(64, Z6, Z7)
	ADD_ROW(64, Z8, Z9); ADD_ROW(64, Z10, Z11); ADD_ROW(64, Z12, Z13); ADD_ROW(64, Z14, Z15)
	ADD_ROW(64, Z16, Z17); ADD_ROW(64, Z18, Z19); ADD_ROW(64, Z20, Z21); ADD_ROW(64, Z22, Z23)
	VZEROUPPER
	RET

avx512_overwrite:
	STORE_ROW(64, Z0, Z1); STORE_ROW(64, Z2, Z3); STORE_ROW(64, Z4, Z5); STORE_ROW(64, Z6, Z7)
	STORE_ROW(64, Z8, Z9); STORE_ROW(64, Z10, Z11); STORE_ROW(64, Z12, Z13); STORE_ROW(64, Z14, Z15)
	STORE_ROW(64, Z16, Z17); STORE_ROW(64, Z18, Z19); STORE_ROW(64, Z20, Z21); STORE_ROW(64, Z22, Z23)
	VZEROUPPER
	RET

// func sgemmAVX2(kb int, a, b, c *float32, ldc int, first bool)
// 6×16 tile in Y0–Y11 (two ymm per row of C), B row in Y12–Y13, broadcasts
// of A in Y14–Y15. Needs AVX2 and FMA.
TEXT ·sgemmAVX2(SB), NOSPLIT, $0-41
	LOAD_ARGS
	PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW; PREFETCH_ROW
	VXORPS Y0, Y0, Y0; VXORPS Y1, Y1, Y1; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8; VXORPS Y9, Y9, Y9; VXORPS Y10, Y10, Y10; VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ avx2_store

avx2_loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	FMA_ROW(0, Y14, Y12, Y13, Y0, Y1)
	FMA_ROW(4, Y15, Y12, Y13, Y2, Y3)
	FMA_ROW(8, Y14, Y12, Y13, Y4, Y5)
	FMA_ROW(12, Y15, Y12, Y13, Y6, Y7)
	FMA_ROW(16, Y14, Y12, Y13, Y8, Y9)
	FMA_ROW(20, Y15, Y12, Y13, Y10, Y11)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ avx2_loop

avx2_store:
	MOVBQZX first+40(FP), R9
	TESTQ R9, R9
	JNZ avx2_overwrite
	ADD_ROW(32, Y0, Y1); ADD_ROW(32, Y2, Y3); ADD_ROW(32, Y4, Y5)
	ADD_ROW(32, Y6, Y7); ADD_ROW(32, Y8, Y9); ADD_ROW(32, Y10, Y11)
	VZEROUPPER
	RET

avx2_overwrite:
	STORE_ROW(32, Y0, Y1); STORE_ROW(32, Y2, Y3); STORE_ROW(32, Y4, Y5)
	STORE_ROW(32, Y6, Y7); STORE_ROW(32, Y8, Y9); STORE_ROW(32, Y10, Y11)
	VZEROUPPER
	RET

// func transpose8AVX2(d *float32, ldd int, s *float32, lds int, kb int)
// Packs eight columns of a matrix whose columns are contiguous (column c's
// element k at s[c·lds+k]) into k-major rows of d (element (k, c) at
// d[k·ldd+c]), eight k at a time (kb is a multiple of 8): load eight
// columns, transpose the 8×8 block in registers (unpack, shuffle,
// 128-bit permute), store eight rows. Needs AVX.
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ ldd+8(FP), DX
	SHLQ $2, DX
	MOVQ s+16(FP), SI
	MOVQ lds+24(FP), BX
	SHLQ $2, BX
	MOVQ kb+32(FP), CX
	SHRQ $3, CX
	JZ transpose8_done
	LEAQ (BX)(BX*2), R11
	LEAQ (DX)(DX*2), R12
transpose8_loop:
	LEAQ (SI)(BX*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(R11*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(BX*1), Y5
	VMOVUPS (R10)(BX*2), Y6
	VMOVUPS (R10)(R11*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	LEAQ (DI)(DX*4), R13
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R12*1)
	VMOVUPS Y12, (R13)
	VMOVUPS Y13, (R13)(DX*1)
	VMOVUPS Y14, (R13)(DX*2)
	VMOVUPS Y15, (R13)(R12*1)
	ADDQ $32, SI
	LEAQ (R13)(DX*4), DI
	DECQ CX
	JNZ transpose8_loop
	VZEROUPPER
transpose8_done:
	RET

// func copyRowsAVX(d *float32, ldd int, s *float32, lds int, kb, panels, vecs int)
// Packs panels column panels of a row-major matrix (row k at s + k·lds)
// into k-major panels ldd floats apart: for k < kb, for q < panels, the
// vecs·8 floats at s[k·lds + q·vecs·8] go to d[q·ldd + k·vecs·8], moved as
// vecs ymm loads and stores (vecs ≥ 1). Needs AVX.
TEXT ·copyRowsAVX(SB), NOSPLIT, $0-56
	MOVQ d+0(FP), DI
	MOVQ ldd+8(FP), DX
	SHLQ $2, DX
	MOVQ s+16(FP), SI
	MOVQ lds+24(FP), BX
	SHLQ $2, BX
	MOVQ kb+32(FP), CX
	MOVQ panels+40(FP), R8
	MOVQ vecs+48(FP), R9
	MOVQ R9, R12
	SHLQ $5, R12
	TESTQ CX, CX
	JZ copyrows_done
	TESTQ R8, R8
	JZ copyrows_done
copyrows_k:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ R8, AX
copyrows_q:
	MOVQ R9, R13
	XORQ R14, R14
copyrows_v:
	VMOVUPS (R10)(R14*1), Y0
	VMOVUPS Y0, (R11)(R14*1)
	ADDQ $32, R14
	DECQ R13
	JNZ copyrows_v
	ADDQ R12, R10
	ADDQ DX, R11
	DECQ AX
	JNZ copyrows_q
	ADDQ BX, SI
	ADDQ R12, DI
	DECQ CX
	JNZ copyrows_k
	VZEROUPPER
copyrows_done:
	RET
