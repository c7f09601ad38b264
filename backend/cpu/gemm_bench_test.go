package cpu

import (
	"fmt"
	"testing"

	"github.com/ia3/ia3/backend"
)

// BenchmarkMatMul times square products, reporting GFLOP/s to compare with
// ../shared/bench/sgemm_openblas.py.
func BenchmarkMatMul(b *testing.B) {
	be := New(0)
	for _, n := range []int{512, 1024, 2048} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, _ := be.FromFloat32(random(1, n*n), n, n)
			y, _ := be.FromFloat32(random(2, n*n), n, n)
			benchGFLOPs(b, be, n, n, n, func() (backend.Tensor, error) { return be.MatMul(x, y, backend.MatMulOptions{}) })
		})
	}
}

// BenchmarkMatMulProjection times Linear over 128 rows with the weight
// shapes of GPT-2 small's and Llama 1.1B's projections, (out, in) as torch
// stores them.
func BenchmarkMatMulProjection(b *testing.B) {
	be := New(0)
	const rows = 128
	for _, s := range []struct {
		model   string
		in, out int
	}{
		{"gpt2", 768, 2304}, {"gpt2", 768, 768}, {"gpt2", 768, 3072}, {"gpt2", 3072, 768},
		{"llama", 2048, 2048}, {"llama", 2048, 256}, {"llama", 2048, 5632}, {"llama", 5632, 2048},
	} {
		b.Run(fmt.Sprintf("%s_%dto%d", s.model, s.in, s.out), func(b *testing.B) {
			x, _ := be.FromFloat32(random(1, rows*s.in), rows, s.in)
			w, _ := be.FromFloat32(random(2, s.out*s.in), s.out, s.in)
			benchGFLOPs(b, be, rows, s.out, s.in, func() (backend.Tensor, error) { return be.Linear(x, w, backend.LinearOptions{}) })
		})
	}
}

// benchGFLOPs runs op b.N times, freeing each result, and reports the rate
// of an m×n×k product per second of wall time (GFLOP/s) and per second of
// the process's CPU time (GFLOP/cpu-s): on a machine shared with other
// work, the second says how well the kernel uses the cores it gets.
func benchGFLOPs(b *testing.B, be *Backend, m, n, k int, op func() (backend.Tensor, error)) {
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		out, err := op()
		if err != nil {
			b.Fatal(err)
		}
		be.Free(out)
	}
	b.StopTimer()
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
	}
}
