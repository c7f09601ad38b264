//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// matmulParams mirrors MatMulParams in shaders/matmul.wgsl.
type matmulParams struct {
	M, N, K, BDT         uint32
	SAM, SAK, SAB, Flags uint32
	SBK, SBN, SBB        uint32
	Alpha                float32
	Batch                uint32
}

// Flags of matmulParams, matching matmul.wgsl.
const (
	mmBias       = 1
	mmOutScale   = 2
	mmInScale    = 4
	mmOutIndexed = 8
	mmInIndexed  = 16
)

// mmTile and mmLargeTile are the output tiles one workgroup of the matmul
// and matmul_large kernels of matmul.wgsl computes.
const (
	mmTile      = 64
	mmLargeTile = 128
)

// matmulCall is one launch of the tiled kernel: the operands, the optional
// epilogue inputs (nil when absent) and the geometry.
type matmulCall struct {
	op                             string
	out, a, b                      *tensor
	bias, outScale, inScale, index *tensor
	p                              matmulParams
	batch                          int
}

// runMatMul queues the call, binding placeholders for absent optional inputs
// (never read: their flags are off). K = 0 runs the kernel too: the
// sums are empty and the epilogue still applies.
func (b *Backend) runMatMul(c *matmulCall) error {
	lim := int(b.dev.Limits().MaxWorkgroupsPerDimension)
	entry, tile := "matmul", mmTile
	if b.matmul.useLarge(c.batch, int(c.p.M), int(c.p.N)) {
		entry, tile = "matmul_large", mmLargeTile
	}
	if c.p.M == 0 || c.p.N == 0 || c.batch == 0 {
		return nil
	}
	bufs := []*tensor{c.out, c.a, c.b}
	for i, t := range []*tensor{c.bias, c.outScale, c.inScale, c.index} {
		if t == nil {
			ph, err := b.placeholder(i)
			if err != nil {
				return err
			}
			t = ph
		}
		bufs = append(bufs, t)
	}
	c.p.Batch = uint32(c.batch)
	outputs := c.batch * int(c.p.M) * int(c.p.N)
	if useDotMatMul(int(c.p.M), int(c.p.K), c.p.SBK == 1) {
		return b.dispatch("matmul.wgsl", "matmul_dot", &c.p, b.groups1D(outputs*dotWG, dotWG), bufs...)
	}
	if useSmallMatMul(int(c.p.M), int(c.p.N), int(c.p.K)) {
		return b.dispatch("matmul.wgsl", "matmul_small", &c.p, b.groups1D(outputs, wg1D), bufs...)
	}
	// The tiled kernels take their tile and batch from the three grid axes,
	// which do not fold; the thin kernels above fold any count over y.
	gx := (int(c.p.N) + tile - 1) / tile
	gy := (int(c.p.M) + tile - 1) / tile
	if gx > lim || gy > lim || c.batch > lim {
		return fmt.Errorf("webgpu: %s: %d×%d×%d batches needs %d×%d×%d workgroups, over the device limit %d (maxComputeWorkgroupsPerDimension)",
			c.op, c.p.M, c.p.N, c.batch, gx, gy, c.batch, lim)
	}
	return b.dispatch("matmul.wgsl", entry, &c.p, [3]uint32{uint32(gx), uint32(gy), uint32(c.batch)}, bufs...)
}

// MatMul multiplies a [..., M, K] by b [..., K, N] (either transposed per
// the options); b's leading dimensions equal a's, or b is 2-D and shared by
// every batch. b may be F16/BF16.
func (b *Backend) MatMul(x, y backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	if a := b.asSplit(x); a != nil {
		return b.matmulSplitRows(a, y, o)
	}
	if w := b.asSplit(y); w != nil {
		return b.matmulSplit(x, w, o)
	}
	a, err := b.f32("MatMul", x)
	if err != nil {
		return nil, err
	}
	w, err := b.tensorOf("MatMul", y)
	if err != nil {
		return nil, err
	}
	if len(a.shape) < 2 || len(w.shape) < 2 || !w.dtype.IsFloat() {
		return nil, fmt.Errorf("webgpu: MatMul: a %v, b %v %s: want at least 2-D, b a float type", a.shape, w.shape, w.dtype)
	}
	if err := checkQuantWeight("MatMul", w, false); err != nil {
		return nil, err
	}
	ra, rb := len(a.shape), len(w.shape)
	m, k := a.shape[ra-2], a.shape[ra-1]
	if o.TransA {
		m, k = k, m
	}
	kb, n := w.shape[rb-2], w.shape[rb-1]
	if o.TransB {
		kb, n = n, kb
	}
	lead := a.shape[:ra-2]
	shared := rb == 2
	if kb != k || (!shared && !slices.Equal(w.shape[:rb-2], lead)) {
		return nil, fmt.Errorf("webgpu: MatMul: a %v and b %v (transA %v, transB %v) do not multiply",
			a.shape, w.shape, o.TransA, o.TransB)
	}
	batch := 1
	for _, d := range lead {
		batch *= d
	}
	out, err := b.alloc("MatMul", backend.F32, append(slices.Clone(lead), m, n)...)
	if err != nil {
		return nil, err
	}
	alpha := o.Alpha
	if alpha == 0 {
		alpha = 1
	}
	p := matmulParams{M: uint32(m), N: uint32(n), K: uint32(k), BDT: dtCode(w.dtype), Alpha: alpha,
		SAM: uint32(k), SAK: 1, SAB: uint32(m * k), SBK: uint32(n), SBN: 1}
	if o.TransA {
		p.SAM, p.SAK = 1, uint32(m)
	}
	if o.TransB {
		p.SBK, p.SBN = 1, uint32(k)
	}
	if !shared {
		p.SBB = uint32(k * n)
	}
	if err := b.runMatMul(&matmulCall{op: "MatMul", out: out, a: a, b: w, p: p, batch: batch}); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: MatMul %v × %v: %w", a.shape, w.shape, err)
	}
	return out, nil
}

// dotWG is the workgroup size of matmul_dot: the threads sharing one output.
const dotWG = 64

// useDotMatMul picks the workgroup-per-output kernel for a few rows against
// a long K read contiguously from b (torch Linear weights): token-by-token
// generation, where one thread per output would leave most of a large
// device idle.
func useDotMatMul(m, k int, bKContiguous bool) bool {
	return bKContiguous && m <= 8 && k >= 256
}

// useSmallMatMul picks the one-output-per-thread kernel for products too
// thin to fill 64×64 tiles: a few rows (generation) or few columns. The
// tiled kernel's workgroup memory and barriers cost more than they save
// there, on software adapters by far.
func useSmallMatMul(m, n, k int) bool {
	return m < 32 || n < 32
}
