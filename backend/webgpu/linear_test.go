//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestLinearHandValues(t *testing.T) {
	b := webgputest.Open(t)
	x := upload(t, b, []float32{1, 2, 3, 4}, 2, 2)       // rows [1 2], [3 4]
	w := upload(t, b, []float32{1, 0, 0, 1, 1, 1}, 3, 2) // out 3, in 2
	bias := upload(t, b, []float32{0.5, 0, -1}, 3)
	outS := upload(t, b, []float32{2, 1, 0}, 3)
	inS := upload(t, b, []float32{10, 1}, 2)
	tests := []struct {
		name string
		o    backend.LinearOptions
		want []float32
	}{
		{"plain", backend.LinearOptions{}, []float32{1, 2, 3, 3, 4, 7}},
		{"bias", backend.LinearOptions{Bias: bias}, []float32{1.5, 2, 2, 3.5, 4, 6}},
		{"out scale", backend.LinearOptions{Bias: bias, OutScale: outS}, []float32{3, 2, 0, 7, 4, 0}},
		{"in scale", backend.LinearOptions{InScale: inS}, []float32{10, 2, 12, 30, 4, 34}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y, err := b.Linear(x, w, tc.o)
			require.NoError(t, err)
			assert.Equal(t, []int{2, 3}, y.Shape())
			assert.Equal(t, tc.want, values(t, b, y))
		})
	}
	t.Run("fan in fan out", func(t *testing.T) {
		wt := upload(t, b, []float32{1, 0, 1, 0, 1, 1}, 2, 3) // in 2, out 3
		y, err := b.Linear(x, wt, backend.LinearOptions{FanInFanOut: true})
		require.NoError(t, err)
		assert.Equal(t, []float32{1, 2, 3, 3, 4, 7}, values(t, b, y))
	})
	t.Run("indexed scales", func(t *testing.T) {
		stackedOut := upload(t, b, []float32{1, 1, 1, 2, 2, 2}, 2, 3)
		idx, err := b.FromInt32([]int32{1, -1}, 2)
		require.NoError(t, err)
		y, err := b.Linear(x, w, backend.LinearOptions{OutScale: stackedOut, InScale: inS, ScaleIndex: idx})
		require.NoError(t, err)
		// Row 0 uses stacked out-scale row 1 (×2) and the shared in-scale;
		// row 1 (index -1) is scaled by the unstacked in-scale only.
		assert.Equal(t, []float32{20, 4, 24, 30, 4, 34}, values(t, b, y))
	})
}

func TestLinearShapes(t *testing.T) {
	b := webgputest.Open(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ rows, in, out int }{{1, 1, 1}, {1, 64, 3}, {7, 33, 65}, {130, 17, 5}, {1, 300, 7}, {3, 513, 2}, {40, 64, 48}} {
		t.Run(fmt.Sprintf("%dx%d->%d", tc.rows, tc.in, tc.out), func(t *testing.T) {
			xd, wd := randoms(r, tc.rows*tc.in), randoms(r, tc.out*tc.in)
			y, err := b.Linear(upload(t, b, xd, tc.rows, tc.in), upload(t, b, wd, tc.out, tc.in), backend.LinearOptions{})
			require.NoError(t, err)
			want := matmulRef(xd, wd, 1, tc.rows, tc.in, tc.out, false, true, true, 1)
			assert.InDeltaSlice(t, want, toF64(values(t, b, y)), 1e-4)
		})
	}
}

// BenchmarkLinear times the Linear products of a 1.1B Llama (hidden 2048,
// MLP 5632, 4 KV heads of 64) over 4×512 tokens under each tiled kernel
// (see webgpu.MatMulKernelEnv); F32 weights [out, in], the MLP down
// projection with an (IA)³ input scale. GFLOP/s counts 2·rows·in·out.
func BenchmarkLinear(bm *testing.B) {
	const rows = 2048
	shapes := []struct {
		name    string
		in, out int
		inScale bool
	}{
		{"q_o_2048x2048", 2048, 2048, false},
		{"k_v_2048x256", 2048, 256, false},
		{"gate_up_2048x5632", 2048, 5632, false},
		{"down_5632x2048_inscale", 5632, 2048, true},
	}
	for _, kernel := range matmulKernels {
		bm.Run(kernel, func(bm *testing.B) {
			b := openWithKernel(bm, kernel)
			for _, s := range shapes {
				bm.Run(s.name, func(bm *testing.B) {
					r := rand.New(rand.NewPCG(9, 10))
					x, err := b.FromFloat32(randoms(r, rows*s.in), rows, s.in)
					require.NoError(bm, err)
					w, err := b.FromFloat32(randoms(r, s.out*s.in), s.out, s.in)
					require.NoError(bm, err)
					var o backend.LinearOptions
					if s.inScale {
						o.InScale, err = b.FromFloat32(randoms(r, s.in), s.in)
						require.NoError(bm, err)
					}
					// One untimed call first: creating the pipeline is not matmul time.
					y, err := b.Linear(x, w, o)
					require.NoError(bm, err)
					b.Free(y)
					require.NoError(bm, b.Sync())
					bm.ResetTimer()
					for bm.Loop() {
						y, err := b.Linear(x, w, o)
						if err != nil {
							bm.Fatal(err)
						}
						if err := b.Sync(); err != nil {
							bm.Fatal(err)
						}
						b.Free(y)
					}
					bm.ReportMetric(2*float64(rows)*float64(s.in)*float64(s.out)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
					for _, t := range []backend.Tensor{x, w, o.InScale} {
						if t != nil {
							b.Free(t)
						}
					}
				})
			}
		})
	}
}
