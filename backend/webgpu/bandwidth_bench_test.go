//go:build cgo && !nowebgpu

package webgpu_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// Benchmarks of the memory-bound kernels at GPT-2-small training shapes
// (batch 8 × 512 tokens, hidden 768). Each iteration queues opsPerSync
// calls and then one Sync, so the time is mostly kernel time rather than
// the round trip of a Sync; one untimed round runs first so pipeline
// creation and pool growth are not timed. GB/s counts the bytes each call
// must read and write at least once.
//
//	go test ./backend/webgpu/ -run '^$' -bench 'Binary|SumRows|Gather|Permute|Narrow|Activation'

// opsPerSync is how many calls one benchmark iteration queues per Sync.
const opsPerSync = 8

// benchOp times op (which returns a tensor to free) and reports GB/s for
// bytes moved per call.
func benchOp(b *testing.B, k *opKit, bytes int, op func() (backend.Tensor, error)) {
	b.Helper()
	round := func() {
		outs := make([]backend.Tensor, 0, opsPerSync)
		for range opsPerSync {
			y, err := op()
			require.NoError(b, err)
			outs = append(outs, y)
		}
		require.NoError(b, k.b.Sync())
		for _, y := range outs {
			k.b.Free(y)
		}
	}
	round()
	b.ResetTimer()
	for b.Loop() {
		round()
	}
	calls := float64(b.N * opsPerSync)
	b.ReportMetric(float64(bytes)*calls/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/calls, "µs/call")
}

func BenchmarkBinary(b *testing.B) {
	k := newOpKit(b)
	tests := []struct {
		name   string
		ashape []int
		bshape []int
	}{
		{"Mul_4096x2304_by_2304", []int{4096, 2304}, []int{2304}},
		{"Mul_4096x2304_full", []int{4096, 2304}, []int{4096, 2304}},
		{"Mul_4096x768_by_768", []int{4096, 768}, []int{768}},
		{"Mul_4096x767_by_767_scalar", []int{4096, 767}, []int{767}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			na, nb := prod(tc.ashape), prod(tc.bshape)
			x, y := k.f32(randVals(1, na, 0, 1), tc.ashape...), k.f32(randVals(2, nb, 0, 1), tc.bshape...)
			benchOp(b, k, 4*(2*na+nb), func() (backend.Tensor, error) { return k.b.Mul(x, y) })
		})
	}
}

func BenchmarkSumRows(b *testing.B) {
	k := newOpKit(b)
	for _, shape := range [][]int{{4096, 768}, {4096, 2304}, {4096, 3072}} {
		b.Run(fmt.Sprintf("%dx%d", shape[0], shape[1]), func(b *testing.B) {
			n := prod(shape)
			x := k.f32(randVals(3, n, 0, 1), shape...)
			benchOp(b, k, 4*(n+shape[1]), func() (backend.Tensor, error) { return k.b.SumRows(x) })
		})
	}
}

func BenchmarkGather(b *testing.B) {
	k := newOpKit(b)
	const vocab, n, d = 50257, 4096, 768
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i * 7919 % vocab)
	}
	table, err := k.b.FromFloat32(randVals(4, vocab*d, 0, 1), vocab, d)
	if err != nil {
		b.Skipf("GPT-2's embedding table does not fit this device: %v", err)
	}
	it := k.i32(ids, n)
	benchOp(b, k, 4*(2*n*d+n), func() (backend.Tensor, error) { return k.b.Gather(table, it) })
}

func BenchmarkPermute(b *testing.B) {
	k := newOpKit(b)
	tests := []struct {
		name  string
		shape []int
		perm  []int
	}{
		{"heads_8x512x12x64", []int{8, 512, 12, 64}, []int{0, 2, 1, 3}},
		{"transpose_last_8x12x512x64", []int{8, 12, 512, 64}, []int{0, 1, 3, 2}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			n := prod(tc.shape)
			x := k.f32(randVals(5, n, 0, 1), tc.shape...)
			benchOp(b, k, 8*n, func() (backend.Tensor, error) { return k.b.Permute(x, tc.perm...) })
		})
	}
}

func BenchmarkNarrow(b *testing.B) {
	k := newOpKit(b)
	const rows, cols = 4096, 2304
	x := k.f32(randVals(6, rows*cols, 0, 1), rows, cols)
	benchOp(b, k, 8*rows*cols/3, func() (backend.Tensor, error) { return k.b.Narrow(x, 1, cols/3, cols/3) })
}

func BenchmarkActivation(b *testing.B) {
	k := newOpKit(b)
	const rows, cols = 4096, 3072
	x := k.f32(randVals(7, rows*cols, 0, 2), rows, cols)
	dy := k.f32(randVals(8, rows*cols, 0, 1), rows, cols)
	b.Run("GELUTanh", func(b *testing.B) {
		benchOp(b, k, 8*rows*cols, func() (backend.Tensor, error) { return k.b.Activation(backend.GELUTanh, x) })
	})
	b.Run("GELUTanhBackward", func(b *testing.B) {
		benchOp(b, k, 12*rows*cols, func() (backend.Tensor, error) { return k.b.ActivationBackward(backend.GELUTanh, x, dy) })
	})
}
