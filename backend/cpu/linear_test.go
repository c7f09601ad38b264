package cpu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func TestLinearHandComputed(t *testing.T) {
	b := open(t)
	x := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	w := f32s(t, b, []float32{1, 0, 1, 0, 1, 0}, 2, 3)  // (out, in)
	wT := f32s(t, b, []float32{1, 0, 0, 1, 1, 0}, 3, 2) // the same weight stored (in, out)
	wHalf, _ := upload(t, b, backend.F16, []float32{1, 0, 1, 0, 1, 0}, 2, 3)
	vec := func(v ...float32) backend.Tensor { return f32s(t, b, v, len(v)) }
	tests := []struct {
		name string
		w    backend.Tensor
		o    backend.LinearOptions
		want []float32
	}{
		{"plain", w, backend.LinearOptions{}, []float32{4, 2, 10, 5}},
		{"f16 weight", wHalf, backend.LinearOptions{}, []float32{4, 2, 10, 5}},
		{"fan_in_fan_out", wT, backend.LinearOptions{FanInFanOut: true}, []float32{4, 2, 10, 5}},
		{"bias", w, backend.LinearOptions{Bias: vec(0.5, -1)}, []float32{4.5, 1, 10.5, 4}},
		{"out scale after bias", w, backend.LinearOptions{Bias: vec(0.5, -1), OutScale: vec(2, 3)}, []float32{9, 3, 21, 12}},
		{"in scale", w, backend.LinearOptions{InScale: vec(1, 0, 2)}, []float32{7, 0, 16, 0}},
		{"in scale conv1d", wT, backend.LinearOptions{FanInFanOut: true, InScale: vec(1, 0, 2)}, []float32{7, 0, 16, 0}},
		{"stacked out", w, backend.LinearOptions{
			OutScale:   f32s(t, b, []float32{2, 3, 10, 10}, 2, 2),
			ScaleIndex: i32s(t, b, []int32{1, -1}, 2),
		}, []float32{40, 20, 10, 5}},
		{"stacked in", w, backend.LinearOptions{
			InScale:    f32s(t, b, []float32{1, 0, 2, 0, 1, 0}, 2, 3),
			ScaleIndex: i32s(t, b, []int32{0, 1}, 2),
		}, []float32{7, 0, 0, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := must(t)(b.Linear(x, tc.w, tc.o))
			assert.Equal(t, tc.want, values(t, b, got, 2, 2))
		})
	}

	_, err := b.Linear(x, w, backend.LinearOptions{
		OutScale:   f32s(t, b, []float32{2, 3, 10, 10}, 2, 2),
		ScaleIndex: i32s(t, b, []int32{0, 2}, 2),
	})
	assert.ErrorContains(t, err, "linear: scale_index[1] = 2 out of range [-1, 2)")
}

// TestLinearAgainstReference checks the fused InScale and epilogue on
// products that stream (few rows) and that span several K blocks and
// parallel tiles: bias and scales must apply exactly once per element. A
// quantized weight is compared as the values it dequantizes to.
func TestLinearAgainstReference(t *testing.T) {
	b := open(t)
	const out, stacks = 130, 3
	for _, tc := range []struct {
		rows, in    int
		fanInFanOut bool
		dtype       backend.DType
	}{
		{70, 300, false, backend.F32}, {70, 300, true, backend.BF16}, {3, 300, false, backend.F16}, {3, 300, true, backend.F32},
		{70, 576, false, backend.Q8_0}, {70, 576, false, backend.NF4}, {3, 576, false, backend.Q8_0}, {3, 576, false, backend.NF4},
	} {
		t.Run(fmt.Sprintf("rows%d_conv1d%v_%v", tc.rows, tc.fanInFanOut, tc.dtype), func(t *testing.T) {
			rows, in := tc.rows, tc.in
			xv := random(3, rows*in)
			wShape := []int{out, in}
			if tc.fanInFanOut {
				wShape = []int{in, out}
			}
			w, wv := upload(t, b, tc.dtype, random(4, out*in), wShape...)
			weight := func(j, k int) float64 { return float64(wv[j*in+k]) }
			if tc.fanInFanOut {
				weight = func(j, k int) float64 { return float64(wv[k*out+j]) }
			}
			bias, inS, outS := random(5, out), random(6, stacks*in), random(7, stacks*out)
			index := make([]int32, rows)
			for r := range index {
				index[r] = int32(r%(stacks+1)) - 1
			}
			got := must(t)(b.Linear(f32s(t, b, xv, 1, rows, in), w, backend.LinearOptions{
				FanInFanOut: tc.fanInFanOut,
				Bias:        f32s(t, b, bias, out),
				InScale:     f32s(t, b, inS, stacks, in),
				OutScale:    f32s(t, b, outS, stacks, out),
				ScaleIndex:  i32s(t, b, index, rows),
			}))
			y := values(t, b, got, 1, rows, out)
			for r := range rows {
				a := int(index[r])
				for j := range out {
					var s float64
					for k := range in {
						xk := float64(xv[r*in+k])
						if a >= 0 {
							xk *= float64(inS[a*in+k])
						}
						s += xk * weight(j, k)
					}
					s += float64(bias[j])
					if a >= 0 {
						s *= float64(outS[a*out+j])
					}
					require.InDelta(t, s, y[r*out+j], 1e-4, "row %d col %d", r, j)
				}
			}
		})
	}
}
