//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepeatKVHandValues(t *testing.T) {
	k := newOpKit(t)
	// B = 1, Hkv = 2, T = 1, D = 2, n = 2: heads (a, a, b, b).
	y, err := k.b.RepeatKV(k.f32([]float32{1, 2, 3, 4}, 1, 2, 1, 2), 2)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 4, 1, 2}, y.Shape())
	assert.Equal(t, []float32{1, 2, 1, 2, 3, 4, 3, 4}, k.get(y))

	// SumKV adds each group of n heads back into one.
	s, err := k.b.SumKV(k.f32([]float32{1, 2, 10, 20, 3, 4, 30, 40}, 1, 4, 1, 2), 2)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 1, 2}, s.Shape())
	assert.Equal(t, []float32{11, 22, 33, 44}, k.get(s))
}

func TestRepeatKVSumKV(t *testing.T) {
	k := newOpKit(t)
	for _, tc := range []struct {
		name         string
		b, hkv, t, d int
		n            int
	}{
		{"n=1 copies", 2, 3, 4, 5, 1},
		{"n=4", 2, 2, 3, 7, 4},
		{"odd sizes", 3, 1, 5, 3, 3},
		{"many elements", 2, 4, 33, 64, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := tc.t * tc.d
			x := randVals(uint64(tc.b*tc.hkv*inner), tc.b*tc.hkv*inner, 0, 1)
			y, err := k.b.RepeatKV(k.f32(x, tc.b, tc.hkv, tc.t, tc.d), tc.n)
			require.NoError(t, err)
			heads := tc.hkv * tc.n
			want := make([]float32, tc.b*heads*inner)
			for b := 0; b < tc.b; b++ {
				for h := 0; h < heads; h++ {
					copy(want[(b*heads+h)*inner:], x[(b*tc.hkv+h/tc.n)*inner:(b*tc.hkv+h/tc.n+1)*inner])
				}
			}
			assert.Equal(t, want, k.get(y))

			// SumKV of the repeated tensor is n·x.
			s, err := k.b.SumKV(y, tc.n)
			require.NoError(t, err)
			sum := make([]float64, len(x))
			for i, v := range x {
				for range tc.n {
					sum[i] += float64(v)
				}
			}
			assertClose(t, sum, k.get(s), 1e-6)
		})
	}
}
