//go:build cgo && !nowebgpu

package webgpu_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestSumRows(t *testing.T) {
	b := webgputest.Open(t)
	tests := []struct {
		name  string
		shape []int
	}{
		{"one row", []int{1, 4}},
		{"few rows", []int{3, 2}},
		{"3-D", []int{2, 3, 5}},
		{"more rows than a chunk", []int{150, 3}},
		{"many chunks", []int{64*70 + 7, 2}},
		{"vec4 columns one pass", []int{40, 8}},
		{"vec4 columns several passes", []int{64*70 + 7, 4}},
		{"vec4 wide columns", []int{3000, 768}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			cols := tc.shape[len(tc.shape)-1]
			data := make([]float32, n)
			want := make([]float64, cols)
			for i := range data {
				data[i] = float32(i%13) - 6
				want[i%cols] += float64(data[i])
			}
			s, err := b.SumRows(upload(t, b, data, tc.shape...))
			require.NoError(t, err)
			assert.Equal(t, []int{cols}, s.Shape())
			got := values(t, b, s)
			for c := range want {
				assert.InDelta(t, want[c], got[c], 1e-3, "column %d", c)
			}
		})
	}
}

func TestSumSquares(t *testing.T) {
	b := webgputest.Open(t)
	for _, n := range []int{1, 5, 2048, 2049, 2048*300 + 17} {
		data := make([]float32, n)
		want := 0.0
		for i := range data {
			data[i] = float32(i%7) * 0.25
			want += float64(data[i]) * float64(data[i])
		}
		s, err := b.SumSquares(upload(t, b, data, n))
		require.NoError(t, err)
		assert.Equal(t, []int{1}, s.Shape())
		got := values(t, b, s)
		assert.InDelta(t, want, got[0], 1e-5*want, "n=%d", n)
	}
}

func TestAllFinite(t *testing.T) {
	b := webgputest.Open(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		data []float32
		want bool
	}{
		{"finite", []float32{0, -1, 3.4e38, 1e-45}, true},
		{"nan", []float32{0, nan, 1}, false},
		{"+inf", []float32{inf, 1}, false},
		{"-inf last", []float32{1, 2, -inf}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := b.AllFinite(upload(t, b, tc.data, len(tc.data)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, ok)
		})
	}
}
