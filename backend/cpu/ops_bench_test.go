package cpu

import (
	"testing"

	"github.com/ia3/ia3/backend"
)

// The benchmarks below time the memory-bound operations of a GPT-2-small
// step at batch 1 × 128 tokens (D = 768, 12 heads, V = 50257), so a change
// to one of them can be compared with `go test -bench` on one machine.

const (
	benchT, benchD, benchH, benchV = 128, 768, 12, 50257
)

// benchF32 uploads n random values in [-1, 1) as a tensor of shape.
func benchF32(b *testing.B, be backend.Backend, seed uint64, shape ...int) backend.Tensor {
	b.Helper()
	return f32s(b, be, random(seed, numel(shape)), shape...)
}

// runOp times f, freeing what it returns so the heap stays level.
func runOp(b *testing.B, be backend.Backend, f func() (backend.Tensor, error)) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		y, err := f()
		if err != nil {
			b.Fatal(err)
		}
		be.Free(y)
	}
}

func BenchmarkSoftmaxCausal(b *testing.B) {
	be := open(b)
	s := benchF32(b, be, 1, 1, benchH, benchT, benchT)
	runOp(b, be, func() (backend.Tensor, error) {
		return be.Softmax(s, backend.SoftmaxOptions{Scale: 0.125, Causal: true})
	})
}

func BenchmarkSoftmaxBackward(b *testing.B) {
	be := open(b)
	y := must(b)(be.Softmax(benchF32(b, be, 1, 1, benchH, benchT, benchT), backend.SoftmaxOptions{Causal: true}))
	dy := benchF32(b, be, 2, 1, benchH, benchT, benchT)
	runOp(b, be, func() (backend.Tensor, error) { return be.SoftmaxBackward(y, dy, 0.125) })
}

func BenchmarkLayerNorm(b *testing.B) {
	be := open(b)
	x := benchF32(b, be, 1, benchT, benchD)
	g, bt := benchF32(b, be, 2, benchD), benchF32(b, be, 3, benchD)
	runOp(b, be, func() (backend.Tensor, error) { return be.LayerNorm(x, g, bt, 1e-5) })
}

func BenchmarkLayerNormBackward(b *testing.B) {
	be := open(b)
	x, dy := benchF32(b, be, 1, benchT, benchD), benchF32(b, be, 2, benchT, benchD)
	g := benchF32(b, be, 3, benchD)
	runOp(b, be, func() (backend.Tensor, error) { return be.LayerNormBackward(x, g, dy, 1e-5) })
}

func BenchmarkGELUTanh(b *testing.B) {
	be := open(b)
	x := benchF32(b, be, 1, benchT, 4*benchD)
	runOp(b, be, func() (backend.Tensor, error) { return be.Activation(backend.GELUTanh, x) })
}

func BenchmarkGELUTanhBackward(b *testing.B) {
	be := open(b)
	x, dy := benchF32(b, be, 1, benchT, 4*benchD), benchF32(b, be, 2, benchT, 4*benchD)
	runOp(b, be, func() (backend.Tensor, error) { return be.ActivationBackward(backend.GELUTanh, x, dy) })
}

func BenchmarkMulRow(b *testing.B) {
	be := open(b)
	x, v := benchF32(b, be, 1, benchT, 4*benchD), benchF32(b, be, 2, 4*benchD)
	runOp(b, be, func() (backend.Tensor, error) { return be.Mul(x, v) })
}

func BenchmarkCrossEntropy(b *testing.B) {
	be := open(b)
	logits := benchF32(b, be, 1, benchT, benchV)
	labels := make([]int32, benchT)
	for i := range labels {
		labels[i] = int32(i * 389 % benchV)
	}
	y := i32s(b, be, labels, benchT)
	b.ReportAllocs()
	for b.Loop() {
		loss, grad, err := be.CrossEntropy(logits, y, -100)
		if err != nil {
			b.Fatal(err)
		}
		be.Free(loss)
		be.Free(grad)
	}
}
