//go:build cgo && !nowebgpu

package webgpu_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/conformance/ref"
)

func TestCrossEntropyHandValues(t *testing.T) {
	k := newOpKit(t)
	// Row 0: logits (0, 0), label 0: loss ln 2, gradient (−½, ½).
	// Row 1 is ignored, so the count is 1 and its gradient 0.
	loss, grad, err := k.b.CrossEntropy(k.f32([]float32{0, 0, 5, -5}, 2, 2), k.i32([]int32{0, -100}, 2), -100)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, loss.Shape())
	assertClose(t, []float64{math.Ln2}, k.get(loss), 1e-7)
	assertClose(t, []float64{-0.5, 0.5, 0, 0}, k.get(grad), 1e-7)
}

func TestCrossEntropy(t *testing.T) {
	k := newOpKit(t)
	for _, tc := range []struct {
		name   string
		n, v   int
		offset float64 // added to every logit: log-sum-exp must not overflow
		labels func(i int) int32
		ignore int32
	}{
		{"all counted", 4, 5, 0, func(i int) int32 { return int32(i % 5) }, -100},
		{"some ignored", 6, 7, 0, func(i int) int32 { return []int32{3, -100, 0, 6, -100, 1}[i] }, -100},
		{"ignore index is a class", 5, 4, 0, func(i int) int32 { return int32(i % 4) }, 2},
		{"large logits", 3, 9, 1000, func(i int) int32 { return int32(2 * i) }, -100},
		{"vocabulary past a workgroup", 3, 1000, 0, func(i int) int32 { return int32(333*i + 7) }, -100},
		{"rows past a workgroup", 300, 3, 0, func(i int) int32 {
			if i%7 == 0 {
				return -100
			}
			return int32(i % 3)
		}, -100},
		{"nothing counted", 3, 4, 0, func(int) int32 { return -100 }, -100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logits := randVals(uint64(tc.n*tc.v), tc.n*tc.v, tc.offset, 5)
			labels := make([]int32, tc.n)
			for i := range labels {
				labels[i] = tc.labels(i)
			}
			loss, grad, err := k.b.CrossEntropy(k.f32(logits, tc.n, tc.v), k.i32(labels, tc.n), tc.ignore)
			require.NoError(t, err)
			wantLoss, wantGrad, err := ref.CrossEntropy(refT(t, logits, tc.n, tc.v), ints(labels), int(tc.ignore))
			require.NoError(t, err)
			assertClose(t, []float64{wantLoss}, k.get(loss), 1e-5)
			assertClose(t, wantGrad.Data, k.get(grad), 1e-6)
		})
	}
}

func TestCrossEntropyLabelOutOfRangeIsReported(t *testing.T) {
	k := newOpKit(t)
	logits := []float32{0, 0, 0, 1, 2, 3}
	loss, grad, err := k.b.CrossEntropy(k.f32(logits, 2, 3), k.i32([]int32{1, 3}, 2), -100)
	require.NoError(t, err)
	require.ErrorContains(t, k.b.Sync(), "CrossEntropy: a label is outside [0, V)")
	// The loss is NaN; the bad row's gradient is its softmax over the count:
	// the reference's with label 0 there, its one-hot term −1/2 taken back.
	_, wantGrad, err := ref.CrossEntropy(refT(t, logits, 2, 3), []int{1, 0}, -100)
	require.NoError(t, err)
	wantGrad.Data[3] += 0.5
	assertClose(t, []float64{math.NaN()}, k.get(loss), 0)
	assertClose(t, wantGrad.Data, k.get(grad), 1e-6)
}

func TestCrossEntropyDeterministic(t *testing.T) {
	k := newOpKit(t)
	const n, v = 513, 77
	logits := k.f32(randVals(3, n*v, 0, 8), n, v)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i * 13 % v)
	}
	ids := k.i32(labels, n)
	first, _, err := k.b.CrossEntropy(logits, ids, -100)
	require.NoError(t, err)
	want := k.get(first)
	for range 3 {
		again, _, err := k.b.CrossEntropy(logits, ids, -100)
		require.NoError(t, err)
		assert.Equal(t, math.Float32bits(want[0]), math.Float32bits(k.get(again)[0]))
	}
}

// ints widens labels for conformance/ref.
func ints(labels []int32) []int {
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = int(l)
	}
	return out
}

func BenchmarkCrossEntropy(b *testing.B) {
	k := newOpKit(b)
	const n, v = 256, 32000
	logits := k.f32(randVals(1, n*v, 0, 3), n, v)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i * 97 % v)
	}
	ids := k.i32(labels, n)
	for b.Loop() {
		loss, grad, err := k.b.CrossEntropy(logits, ids, -100)
		require.NoError(b, err)
		require.NoError(b, k.b.Sync())
		k.b.Free(loss)
		k.b.Free(grad)
	}
}
