package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCrossEntropy(t *testing.T) {
	b := open(t)
	logits := f32s(t, b, []float32{1, 2, 3, 0, 0, 0, 5, 5, 5}, 3, 3)
	loss, grad, err := b.CrossEntropy(logits, i32s(t, b, []int32{2, -100, 0}, 3), -100)
	require.NoError(t, err)
	// Row 1: −log softmax = 0.40760596; row 3: log 3; row 2 ignored.
	assert.InDeltaSlice(t, []float64{(0.4076059644443806 + math.Log(3)) / 2}, values(t, b, loss, 1), 1e-7)
	assert.InDeltaSlice(t, []float64{
		0.09003057317038046 / 2, 0.24472847105479767 / 2, (0.6652409557748219 - 1) / 2,
		0, 0, 0,
		(1.0/3 - 1) / 2, 1.0 / 6, 1.0 / 6,
	}, values(t, b, grad, 3, 3), 1e-7)

	loss, grad, err = b.CrossEntropy(logits, i32s(t, b, []int32{-1, -1, -1}, 3), -1)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(float64(values(t, b, loss, 1)[0])), "no counted row gives NaN")
	assert.Equal(t, make([]float32, 9), values(t, b, grad, 3, 3))

	_, _, err = b.CrossEntropy(logits, i32s(t, b, []int32{0, 3, 0}, 3), -100)
	assert.ErrorContains(t, err, "cross_entropy: label 3 of row 1 out of range [0, 3)")
}

func TestReductions(t *testing.T) {
	b := open(t)
	x := f32s(t, b, []float32{1, 2, 3, 4, 5, 6}, 1, 3, 2)
	assert.Equal(t, []float32{9, 12}, values(t, b, must(t)(b.SumRows(x)), 2))
	assert.Equal(t, []float32{91}, values(t, b, must(t)(b.SumSquares(x)), 1))

	// Many rows split over workers still sum exactly (small integers).
	const rows, cols = 5000, 7
	big := make([]float32, rows*cols)
	for i := range big {
		big[i] = float32(i % cols)
	}
	assert.Equal(t, []float32{0, 5000, 10000, 15000, 20000, 25000, 30000}, values(t, b, must(t)(b.SumRows(f32s(t, b, big, rows, cols))), cols))
}
