package cpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// seq returns 0, 1, ..., n-1.
func seq(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)
	}
	return out
}

func TestPermute(t *testing.T) {
	b := open(t)
	tests := []struct {
		name  string
		shape []int
		perm  []int
		want  []float32
		out   []int
	}{
		{"transpose", []int{2, 3}, []int{1, 0}, []float32{0, 3, 1, 4, 2, 5}, []int{3, 2}},
		{"identity", []int{2, 3}, []int{0, 1}, seq(6), []int{2, 3}},
		{"1-D", []int{3}, []int{0}, seq(3), []int{3}},
		// [1, 2, 2, 2] heads ↔ time: out[0, t, h, d] = in[0, h, t, d].
		{"heads", []int{1, 2, 2, 2}, []int{0, 2, 1, 3}, []float32{0, 1, 4, 5, 2, 3, 6, 7}, []int{1, 2, 2, 2}},
		// Reversing a [2, 1, 2] tensor: out[k, j, i] = in[i, j, k].
		{"reverse 3-D", []int{2, 1, 2}, []int{2, 1, 0}, []float32{0, 2, 1, 3}, []int{2, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := f32s(t, b, seq(numel(tc.shape)), tc.shape...)
			got := must(t)(b.Permute(x, tc.perm...))
			assert.Equal(t, tc.want, values(t, b, got, tc.out...))
		})
	}
}

func TestPermuteLargeMatchesIndexing(t *testing.T) {
	b := open(t)
	shape := []int{3, 5, 7, 11}
	x := f32s(t, b, seq(numel(shape)), shape...)
	got := values(t, b, must(t)(b.Permute(x, 2, 0, 3, 1)), 7, 3, 11, 5)
	for i := range 7 {
		for j := range 3 {
			for k := range 11 {
				for l := range 5 {
					// out[i, j, k, l] = in[j, l, i, k]
					want := float32(((j*5+l)*7+i)*11 + k)
					require.Equal(t, want, got[((i*3+j)*11+k)*5+l])
				}
			}
		}
	}
}

func TestNarrowConcat(t *testing.T) {
	b := open(t)
	x := f32s(t, b, seq(12), 2, 3, 2)
	assert.Equal(t, []float32{2, 3, 4, 5, 8, 9, 10, 11}, values(t, b, must(t)(b.Narrow(x, 1, 1, 2)), 2, 2, 2))
	assert.Equal(t, []float32{6, 7, 8, 9, 10, 11}, values(t, b, must(t)(b.Narrow(x, 0, 1, 1)), 1, 3, 2))
	assert.Equal(t, []float32{1, 3, 5, 7, 9, 11}, values(t, b, must(t)(b.Narrow(x, 2, 1, 1)), 2, 3, 1))

	a := f32s(t, b, []float32{1, 2, 3, 4}, 2, 2)
	c := f32s(t, b, []float32{5, 6}, 2, 1)
	assert.Equal(t, []float32{1, 2, 5, 3, 4, 6}, values(t, b, must(t)(b.Concat(1, a, c)), 2, 3))
	assert.Equal(t, []float32{1, 2, 3, 4, 1, 2, 3, 4}, values(t, b, must(t)(b.Concat(0, a, a)), 4, 2))

	// A KV cache of 4 steps, filled at steps 1-2.
	cache := must(t)(b.Zeros(1, 4, 2))
	require.NoError(t, b.NarrowAssign(cache, 1, 1, f32s(t, b, []float32{1, 2, 3, 4}, 1, 2, 2)))
	assert.Equal(t, []float32{0, 0, 1, 2, 3, 4, 0, 0}, values(t, b, cache, 1, 4, 2))
}

func TestGatherScatter(t *testing.T) {
	b := open(t)
	table := f32s(t, b, seq(8), 4, 2)
	ids := i32s(t, b, []int32{3, 0, 3}, 3)
	assert.Equal(t, []float32{6, 7, 0, 1, 6, 7}, values(t, b, must(t)(b.Gather(table, ids)), 3, 2))

	half, _ := upload(t, b, backend.BF16, []float32{1, 2, 3, 4}, 2, 2)
	assert.Equal(t, []float32{3, 4}, values(t, b, must(t)(b.Gather(half, i32s(t, b, []int32{1}, 1))), 1, 2))

	_, err := b.Gather(table, i32s(t, b, []int32{1, 4}, 2))
	assert.ErrorContains(t, err, "gather: id 4 at position 1 out of range [0, 4)")
	_, err = b.Gather(table, i32s(t, b, []int32{-1}, 1))
	assert.ErrorContains(t, err, "gather: id -1 at position 0 out of range")

	src := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 3, 2)
	got := must(t)(b.ScatterAddRows(4, ids, src))
	assert.Equal(t, []float32{3, 4, 0, 0, 0, 0, 6, 8}, values(t, b, got, 4, 2))
	_, err = b.ScatterAddRows(3, ids, src)
	assert.ErrorContains(t, err, "scatter_add_rows: id 3 at position 0 out of range [0, 3)")
}

func TestRepeatSumKV(t *testing.T) {
	b := open(t)
	// [B=2, Hkv=2, T=1, D=2]
	x := f32s(t, b, seq(8), 2, 2, 1, 2)
	rep := must(t)(b.RepeatKV(x, 2))
	assert.Equal(t, []float32{0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7}, values(t, b, rep, 2, 4, 1, 2))
	sum := must(t)(b.SumKV(rep, 2))
	assert.Equal(t, []float32{0, 2, 4, 6, 8, 10, 12, 14}, values(t, b, sum, 2, 2, 1, 2))
	assert.Equal(t, seq(8), values(t, b, must(t)(b.RepeatKV(x, 1)), 2, 2, 1, 2))
}
