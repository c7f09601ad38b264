package cpu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/quant"
)

// TestQuantizedStorage checks that a quantized upload reads back as the
// quant package dequantizes it, through ToFloat32, Copy and the scale ops.
func TestQuantizedStorage(t *testing.T) {
	b := open(t)
	const rows, cols = 3, 128
	v := random(11, rows*cols)
	for _, dt := range []backend.DType{backend.Q8_0, backend.NF4} {
		t.Run(dt.String(), func(t *testing.T) {
			w, got := upload(t, b, dt, v, rows, cols)
			assert.Equal(t, dt, w.DType())
			raw, err := quant.Quantize(dt.QuantFormat(), v, rows, cols)
			require.NoError(t, err)
			want, err := quant.Dequantize(dt.QuantFormat(), raw, rows, cols)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			c := must(t)(b.Copy(w))
			assert.Equal(t, backend.F32, c.DType())
			assert.Equal(t, want, values(t, b, c, rows, cols))
			rs := values(t, b, must(t)(b.ScaleRows(w, f32s(t, b, []float32{2, -1, 0.5}, rows), false)), rows, cols)
			cv := random(12, cols)
			cs := values(t, b, must(t)(b.ScaleCols(w, f32s(t, b, cv, cols), false)), rows, cols)
			for r := range rows {
				for c := range cols {
					assert.Equal(t, want[r*cols+c]*[]float32{2, -1, 0.5}[r], rs[r*cols+c])
					assert.Equal(t, want[r*cols+c]*cv[c], cs[r*cols+c])
				}
			}
			_, err = b.Linear(f32s(t, b, v[:cols], cols), w, backend.LinearOptions{FanInFanOut: true})
			assert.ErrorContains(t, err, "fan_in_fan_out is refused for a quantized weight")
		})
	}
}

// TestQuantizedMatMul checks MatMul with a quantized, shared b against the
// dequantized weight, read transposed (a·Wᵀ, the forward) and as is (a·W,
// a Linear's backward dx = dy·W), on the packed and the streaming paths.
func TestQuantizedMatMul(t *testing.T) {
	b := open(t)
	const n, k = 40, 128
	for _, dt := range []backend.DType{backend.Q8_0, backend.NF4} {
		w, wv := upload(t, b, dt, random(22, n*k), n, k)
		for _, tc := range []struct {
			batch, m int
			transB   bool
		}{{2, 9, true}, {2, 9, false}, {1, 2, true}, {1, 3, false}} {
			t.Run(fmt.Sprintf("%v_m%d_transB%v", dt, tc.m, tc.transB), func(t *testing.T) {
				inner, cols := k, n // a·Wᵀ: a [.., k], result [.., n]
				at := func(j, p int) float32 { return wv[j*k+p] }
				if !tc.transB { // a·W: a [.., n], result [.., k]
					inner, cols = n, k
					at = func(j, p int) float32 { return wv[p*k+j] }
				}
				rows := tc.batch * tc.m
				av := random(21, rows*inner)
				got := values(t, b, must(t)(b.MatMul(f32s(t, b, av, tc.batch, tc.m, inner), w,
					backend.MatMulOptions{TransB: tc.transB, Alpha: 0.5})), tc.batch, tc.m, cols)
				for i := range rows {
					for j := range cols {
						var s float64
						for p := range inner {
							s += float64(av[i*inner+p]) * float64(at(j, p))
						}
						require.InDelta(t, 0.5*s, got[i*cols+j], 1e-4, "row %d col %d", i, j)
					}
				}
			})
		}
	}
}

// TestAllocatedBytes checks the backend's byte accounting: each owner
// tensor counts its storage (a quantized one its storage bytes) until it
// is freed, views and results of freed tensors count nothing, and the
// peak holds the largest total.
func TestAllocatedBytes(t *testing.T) {
	cb := New(2)
	defer cb.Close()
	b := backend.Checked(cb)
	assert.Zero(t, cb.AllocatedBytes())
	x := must(t)(b.FromFloat32(make([]float32, 6), 2, 3))
	assert.Equal(t, uint64(24), cb.AllocatedBytes())
	v := must(t)(b.View(x, 6))
	ids := must(t)(b.FromInt32([]int32{1, 2}, 2))
	raw, err := quant.Quantize(quant.NF4, random(1, 4*64), 4, 64)
	require.NoError(t, err)
	w := must(t)(b.FromBytes(backend.NF4, raw, 4, 64))
	h := must(t)(b.FromBytes(backend.BF16, make([]byte, 10), 5))
	assert.Equal(t, uint64(24+8+len(raw)+10), cb.AllocatedBytes())
	y := must(t)(b.Linear(must(t)(b.FromFloat32(random(2, 64), 1, 64)), w, backend.LinearOptions{}))
	assert.Equal(t, uint64(24+8+len(raw)+10+256+16), cb.AllocatedBytes())
	peak := cb.PeakBytes()
	for _, tn := range []backend.Tensor{v, x, x, ids, w, h, y} { // a view, then a double free: no-ops
		b.Free(tn)
	}
	assert.Equal(t, uint64(256), cb.AllocatedBytes(), "the Linear's input, never freed")
	assert.Equal(t, peak, cb.PeakBytes())
	cb.ResetPeak()
	assert.Equal(t, uint64(256), cb.PeakBytes())
}
