package ref

import (
	"fmt"
	"math"
)

// CrossEntropy returns the mean over counted rows of −log softmax(logits)
// at the label, for logits [N, V] and labels [N]; rows whose label equals
// ignore do not count. The gradient is (softmax − onehot)/count on counted
// rows and 0 on ignored ones. With no counted row the loss is NaN and the
// gradient zero.
func CrossEntropy(logits T, labels []int, ignore int) (loss float64, grad T, err error) {
	if err := logits.valid("CrossEntropy", "logits"); err != nil {
		return 0, T{}, err
	}
	if len(logits.Shape) != 2 || logits.Shape[0] != len(labels) {
		return 0, T{}, fmt.Errorf("ref CrossEntropy: logits %v with %d labels, want [N, V] and N labels", logits.Shape, len(labels))
	}
	n, v := logits.Shape[0], logits.Shape[1]
	count := 0
	for r, l := range labels {
		if l == ignore {
			continue
		}
		if l < 0 || l >= v {
			return 0, T{}, fmt.Errorf("ref CrossEntropy: label %d of row %d out of [0, %d)", l, r, v)
		}
		count++
	}
	grad = New(n, v)
	if count == 0 {
		return math.NaN(), grad, nil
	}
	for r, l := range labels {
		if l == ignore {
			continue
		}
		row := logits.Data[r*v : (r+1)*v]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, x)
		}
		sum := 0.0
		for _, x := range row {
			sum += math.Exp(x - mx)
		}
		lse := mx + math.Log(sum)
		loss += lse - row[l]
		for j, x := range row {
			grad.Data[r*v+j] = math.Exp(x-lse) / float64(count)
		}
		grad.Data[r*v+l] -= 1 / float64(count)
	}
	return loss / float64(count), grad, nil
}

// SumRows sums x [..., C] over every leading dimension into [C].
func SumRows(x T) (T, error) {
	if err := x.valid("SumRows", "x"); err != nil {
		return T{}, err
	}
	if len(x.Shape) == 0 {
		return T{}, fmt.Errorf("ref SumRows: scalar input")
	}
	rows, c := rowsCols(x.Shape)
	out := New(c)
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			out.Data[j] += x.Data[r*c+j]
		}
	}
	return out, nil
}

// MulSumRows returns Σ over the leading dimensions of a ⊙ b, giving [C]:
// the gradient of a scale vector broadcast over rows.
func MulSumRows(a, b T) (T, error) {
	if err := sameShapes("MulSumRows", a, b); err != nil {
		return T{}, err
	}
	p, err := Mul(a, b)
	if err != nil {
		return T{}, err
	}
	return SumRows(p)
}

// SumSquares returns Σx² as a [1] tensor.
func SumSquares(x T) (T, error) {
	if err := x.valid("SumSquares", "x"); err != nil {
		return T{}, err
	}
	out := New(1)
	for _, v := range x.Data {
		out.Data[0] += v * v
	}
	return out, nil
}
