package modeltest

import "testing"

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
