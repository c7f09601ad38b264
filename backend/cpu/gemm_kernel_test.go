package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestMicroKernels runs every kernel this CPU has against the contract,
// computed in float64: kb 0, 1 and odd depths, beta 0 over a tile of NaN
// and beta 1 over values, full tiles and edge tiles below mr×nr, with NaN
// guard cells around the tile that must stay untouched.
func TestMicroKernels(t *testing.T) {
	for _, ar := range availableArchs() {
		for _, kb := range []int{0, 1, 2, 3, 7, 17, 256, 259} {
			for _, first := range []bool{true, false} {
				for _, edge := range [][2]int{{ar.mr, ar.nr}, {1, 1}, {ar.mr - 1, ar.nr - 1}, {ar.mr, 1}, {1, ar.nr}} {
					rows, cols := edge[0], edge[1]
					if rows < 1 || cols < 1 {
						continue
					}
					name := fmt.Sprintf("%s/kb%d/first%v/%dx%d", ar.name, kb, first, rows, cols)
					t.Run(name, func(t *testing.T) { checkMicroKernel(t, &ar, kb, rows, cols, first) })
				}
			}
		}
	}
}

func checkMicroKernel(t *testing.T, ar *gemmArch, kb, rows, cols int, first bool) {
	a := random(1, ar.mr*kb)
	b := random(2, ar.nr*kb)
	// The tile sits one row and one column inside a buffer of NaN guards.
	ldc := ar.nr + 3
	buf := make([]float32, (ar.mr+2)*ldc)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	start := ldc + 1
	old := random(3, ar.mr*ar.nr)
	if !first {
		for r := range rows {
			copy(buf[start+r*ldc:start+r*ldc+cols], old[r*ar.nr:r*ar.nr+cols])
		}
	}
	c := buf[start:]
	if rows == ar.mr && cols == ar.nr {
		ar.kernel(kb, a, b, c, ldc, first)
	} else {
		ar.edge(kb, a, b, c, ldc, rows, cols, first, make([]float32, maxTile))
	}
	for i, v := range buf {
		r, j := (i-start)/ldc, (i-start)%ldc
		if i < start || r >= rows || j >= cols {
			require.True(t, math.IsNaN(float64(v)), "guard cell %d overwritten with %v", i, v)
			continue
		}
		var want float64
		if !first {
			want = float64(old[r*ar.nr+j])
		}
		for k := range kb {
			want += float64(a[k*ar.mr+r]) * float64(b[k*ar.nr+j])
		}
		require.InDelta(t, want, v, 1e-5*math.Sqrt(float64(kb))+1e-6, "row %d col %d", r, j)
	}
}

// TestKernelsAgreeEndToEnd runs MatMul and Linear with every kernel on
// shapes around its tile (rows and columns below mr and nr, k 1 and odd —
// k 0 is no valid tensor shape, the micro-kernel test covers it —
// several k blocks, transposes, half weights, fused options) and compares
// them with the pure-Go kernel's results.
func TestKernelsAgreeEndToEnd(t *testing.T) {
	ref := backend.Checked(newWithArch(2, genericArch))
	tests := []struct {
		m, n, k        int
		transA, transB bool
		dtype          backend.DType
	}{
		{5, 3, 1, false, false, backend.F32},
		{11, 31, 7, false, true, backend.F32},
		{13, 33, 300, true, false, backend.F32},
		{25, 65, 513, true, true, backend.F32},
		{12, 32, 256, false, false, backend.F32},
		{30, 70, 800, false, false, backend.F32},
		{40, 100, 777, false, true, backend.F32},
		{aInL1Rows + 5, 70, 800, false, false, backend.F32},
		{aInL1Rows + 7, 40, 500, true, true, backend.F32},
		{37, 70, 129, false, true, backend.F16},
		{37, 70, 129, false, false, backend.BF16},
	}
	for _, ar := range availableArchs() {
		be := backend.Checked(newWithArch(2, ar))
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%dx%dx%d_tA%v_tB%v_%v", ar.name, tc.m, tc.n, tc.k, tc.transA, tc.transB, tc.dtype), func(t *testing.T) {
				aShape, bShape := []int{tc.m, tc.k}, []int{tc.k, tc.n}
				if tc.transA {
					aShape = []int{tc.k, tc.m}
				}
				if tc.transB {
					bShape = []int{tc.n, tc.k}
				}
				o := backend.MatMulOptions{TransA: tc.transA, TransB: tc.transB, Alpha: 0.5}
				run := func(b backend.Backend) []float32 {
					bt, _ := upload(t, b, tc.dtype, random(2, tc.k*tc.n), bShape...)
					return values(t, b, must(t)(b.MatMul(f32s(t, b, random(1, tc.m*tc.k), aShape...), bt, o)), tc.m, tc.n)
				}
				assert.InDeltaSlice(t, run(ref), run(be), 1e-5*math.Sqrt(float64(tc.k))+1e-6)
			})
		}
		t.Run(ar.name+"/linear_fused", func(t *testing.T) {
			const rows, in, out, stacks = 19, 70, 45, 3
			run := func(b backend.Backend) []float32 {
				o := backend.LinearOptions{
					Bias:       f32s(t, b, random(4, out), out),
					OutScale:   f32s(t, b, random(5, stacks*out), stacks, out),
					InScale:    f32s(t, b, random(6, stacks*in), stacks, in),
					ScaleIndex: i32s(t, b, []int32{0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2}, rows),
				}
				x := f32s(t, b, random(1, rows*in), rows, in)
				w := f32s(t, b, random(2, out*in), in, out)
				return values(t, b, must(t)(b.Linear(x, w, backend.LinearOptions{FanInFanOut: true, Bias: o.Bias, OutScale: o.OutScale, InScale: o.InScale, ScaleIndex: o.ScaleIndex})), rows, out)
			}
			assert.InDeltaSlice(t, run(ref), run(be), 1e-5*math.Sqrt(in)+1e-6)
		})
	}
}

// TestSelectArch checks the IA3_CPU_KERNEL choices: empty picks the
// fastest, generic always works, unknown names fail naming the choices.
func TestSelectArch(t *testing.T) {
	best, err := selectArch("")
	require.NoError(t, err)
	assert.Equal(t, availableArchs()[0].name, best.name)
	g, err := selectArch("generic")
	require.NoError(t, err)
	assert.Equal(t, "generic", g.name)
	_, err = selectArch("sse9")
	require.ErrorContains(t, err, `IA3_CPU_KERNEL="sse9": unknown kernel (known: avx512, avx2, neon, generic`)
	_, err = selectArch("neon")
	if !hasArch("neon") {
		require.ErrorContains(t, err, "this CPU cannot run the neon kernel")
	}
	t.Setenv(kernelEnv, "sse9")
	_, err = provider{}.Open(t.Context(), "cpu")
	require.ErrorContains(t, err, "unknown kernel")
	t.Setenv(kernelEnv, "generic")
	b, err := provider{}.Open(t.Context(), "cpu")
	require.NoError(t, err)
	assert.Contains(t, b.Info().Driver, "sgemm kernel generic 2×4")
}

// hasArch reports whether this CPU runs the kernel called name.
func hasArch(name string) bool {
	for _, a := range availableArchs() {
		if a.name == name {
			return true
		}
	}
	return false
}

// TestArchBlocking checks what the loops assume of every kernel's
// blocking: mc a multiple of mr (blocks start on panel boundaries), nc a
// multiple of nr (strips do), and a tile within the edge scratch.
func TestArchBlocking(t *testing.T) {
	for _, ar := range availableArchs() {
		assert.Zero(t, ar.mc%ar.mr, "%s: mc %d, mr %d", ar.name, ar.mc, ar.mr)
		assert.Zero(t, ar.nc%ar.nr, "%s: nc %d, nr %d", ar.name, ar.nc, ar.nr)
		assert.LessOrEqual(t, ar.mr*ar.nr, maxTile, ar.name)
		assert.Positive(t, ar.kc, ar.name)
	}
}
