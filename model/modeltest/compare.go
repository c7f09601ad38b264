package modeltest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ia3/ia3/model/safetensors"
)

// Tensor is a float tensor read from a fixture file.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ReadTensors reads every floating tensor of a safetensors file (for
// example a case's expected.safetensors), widened to float32.
func ReadTensors(path string) (map[string]Tensor, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]Tensor{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		switch info.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
		default:
			continue
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[name] = Tensor{Shape: slices.Clone(info.Shape), Data: v}
	}
	return out, nil
}

// Tolerance is the README's bound for float32 paths: 1e-4·max(1, max|ref|).
func Tolerance(ref []float32) float64 {
	m := 1.0
	for _, v := range ref {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return 1e-4 * m
}

// CompareLogits compares got (shaped as ref) with ref under the README's
// rules: for causal LM and encoder outputs ([B, T, …]) only positions
// whose attention mask is 1 count (mask nil = all), for T5 decoder logits
// (task SEQ_2_SEQ_LM) and classification ([B, labels]) everything does.
// It returns the largest counted difference and the tolerance, and an
// error when the shapes disagree or the difference exceeds the tolerance.
func CompareLogits(got []float32, gotShape []int, ref Tensor, mask []int32, task string) (maxDiff, tol float64, err error) {
	if !slices.Equal(gotShape, ref.Shape) {
		return 0, 0, fmt.Errorf("logits shape %v, reference %v", gotShape, ref.Shape)
	}
	if len(got) != len(ref.Data) {
		return 0, 0, fmt.Errorf("logits have %d values, reference %d", len(got), len(ref.Data))
	}
	masked := task != "SEQ_2_SEQ_LM" && task != "SEQ_CLS" && len(ref.Shape) == 3 && mask != nil
	if masked && len(mask) != ref.Shape[0]*ref.Shape[1] {
		return 0, 0, fmt.Errorf("mask has %d entries for logits %v", len(mask), ref.Shape)
	}
	row := 1
	if len(ref.Shape) == 3 {
		row = ref.Shape[2]
	}
	var counted []float32
	worst := -1
	for i := range got {
		if masked && mask[i/row] == 0 {
			continue
		}
		counted = append(counted, ref.Data[i])
		d := math.Abs(float64(got[i]) - float64(ref.Data[i]))
		if d > maxDiff || math.IsNaN(d) {
			maxDiff, worst = d, i
			if math.IsNaN(d) {
				maxDiff = math.Inf(1)
			}
		}
	}
	tol = Tolerance(counted)
	if maxDiff > tol {
		return maxDiff, tol, fmt.Errorf("max |ours − ref| = %.3g at flat index %d (ours %g, ref %g) exceeds %.3g",
			maxDiff, worst, got[worst], ref.Data[worst], tol)
	}
	return maxDiff, tol, nil
}

// AssertLogits fails t when CompareLogits reports a difference, and logs
// the largest difference otherwise.
func AssertLogits(t testing.TB, label string, got []float32, gotShape []int, ref Tensor, mask []int32, task string) {
	t.Helper()
	d, tol, err := CompareLogits(got, gotShape, ref, mask, task)
	if err != nil {
		t.Errorf("%s: %v", label, err)
		return
	}
	t.Logf("%s: max diff %.3g (tolerance %.3g)", label, d, tol)
}
