package conformance

import (
	"math"
	"strings"
	"testing"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needsCPU names the malformed case that opens the CPU backend as "another
// device": the test binary of this file registers no provider.
const needsCPU = "malformed: tensor of another device"

func TestSuitePassesOnTheReferenceBackend(t *testing.T) {
	b := backend.Checked(&refBackend{})
	for _, c := range allCases() {
		if c.shape == needsCPU {
			continue
		}
		res := runCase(b, c)
		assert.True(t, res.Pass, "%s %s: %s", c.op, c.shape, res.Err)
		// float64 results stored as float32: within one rounding, except
		// where AdamW's float32 hyper-parameters stand for decimals.
		if !c.malformed && !(c.op == "AdamW" && c.k > 0) {
			assert.LessOrEqual(t, res.MaxRel, u, "%s %s", c.op, c.shape)
		}
	}
}

func TestEveryOpHasCasesAndATolerance(t *testing.T) {
	ops, keys := map[string]int{}, map[string]int{}
	for _, c := range allCases() {
		if !c.malformed {
			ops[c.op]++
			keys[c.tolKey()]++
			_, ok := toleranceFor(c.tolKey())
			assert.True(t, ok, "op %s has no tolerance %s", c.op, c.tolKey())
		}
	}
	// Every Backend method that computes something has rows.
	for _, m := range []string{
		"Zeros", "FromFloat32", "FromInt32", "FromBytes", "View", "Copy", "Permute", "Narrow", "NarrowAssign",
		"Concat", "Gather", "ScatterAddRows", "RepeatKV", "SumKV", "MatMul", "Linear", "Add", "Sub", "Mul",
		"Affine", "Activation", "ActivationBackward", "SwiGLU", "SwiGLUBackward", "LayerNorm",
		"LayerNormBackward", "RMSNorm", "RMSNormBackward", "Softmax", "SoftmaxBackward", "Rope",
		"CrossEntropy", "SumRows", "SumSquares", "ScaleRows", "ScaleCols", "WeightedSum", "AllFinite", "AdamW",
		"TopK", "ExpertLinear",
		"AddNorm", "NormBackwardAdd", "MulSumRows",
	} {
		assert.Positive(t, ops[m], "no case for %s", m)
	}
	for key := range tolerances {
		assert.Positive(t, keys[key], "tolerance for %s but no case", key)
	}
}

func TestSuiteCatchesABrokenOp(t *testing.T) {
	scale := func(f float64) func(ref.T) ref.T {
		return func(r ref.T) ref.T {
			out := r.Clone()
			for i := range out.Data {
				out.Data[i] *= f
			}
			return out
		}
	}
	for _, tc := range []struct {
		name, op string
		rb       *refBackend
		failing  string // a case that must fail, by shape
	}{
		{"gelu tanh form for erf", "Activation", &refBackend{geluTanhForErf: true}, "gelu [7 1029]"},
		{"matmul off by 1e-4", "MatMul", &refBackend{broken: func(op string, r ref.T) ref.T {
			if op == "MatMul" {
				return scale(1 + 1e-4)(r)
			}
			return r
		}}, "[7 1029]×F32[1029 33]"},
		{"masked probabilities not zero", "Softmax", &refBackend{broken: func(op string, r ref.T) ref.T {
			if op != "Softmax" {
				return r
			}
			out := r.Clone()
			for i, v := range out.Data {
				if v == 0 {
					out.Data[i] = 1e-3
				}
			}
			return out
		}}, "[2 3 7 7] scale 0.125 causal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := backend.Checked(tc.rb)
			failed := map[string]bool{}
			for _, c := range allCases() {
				if c.malformed {
					continue
				}
				res := runCase(b, c)
				if !res.Pass {
					assert.Equal(t, tc.op, c.op, "only %s rows may fail: %s %s: %s", tc.op, c.op, c.shape, res.Err)
					failed[c.shape] = true
				}
			}
			assert.True(t, failed[tc.failing], "%s %s did not fail; failed: %v", tc.op, tc.failing, failed)
		})
	}
}

func TestCompare(t *testing.T) {
	want := ref.T{Shape: []int{2, 2}, Data: []float64{1, -4, 0, 2}}
	abs, rel, err := compare([]float64{1, -4.5, 0, 2}, []int{2, 2}, want, 0)
	require.NoError(t, err)
	assert.Equal(t, 0.5, abs)
	assert.Equal(t, 0.125, rel)

	_, _, err = compare([]float64{1, -4, 0, 2}, []int{4}, want, 0)
	require.ErrorContains(t, err, "shape [4], want [2 2]")
	_, _, err = compare([]float64{1, math.NaN(), 0, 2}, []int{2, 2}, want, 0)
	require.ErrorContains(t, err, "element 1 is NaN")

	nan := ref.T{Shape: []int{2}, Data: []float64{math.NaN(), math.Inf(-1)}}
	_, _, err = compare([]float64{math.NaN(), math.Inf(-1)}, []int{2}, nan, 0)
	require.NoError(t, err, "NaN matches NaN and -Inf matches -Inf")
	_, _, err = compare([]float64{0, math.Inf(-1)}, []int{2}, nan, 0)
	require.Error(t, err)

	zero := ref.T{Shape: []int{1}, Data: []float64{0}}
	_, rel, err = compare([]float64{1e-30}, []int{1}, zero, 0)
	require.NoError(t, err)
	assert.True(t, math.IsInf(rel, 1), "any difference from an all-zero result fails")
	_, rel, err = compare([]float64{1e-3}, []int{1}, zero, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 2e-3, rel, "a floor replaces a smaller max|ref|")
}

func TestToleranceGrowsWithSqrtK(t *testing.T) {
	mm := tolerances["MatMul"]
	assert.InDelta(t, 8*u+16*32*u, mm.at(1024), 1e-15)
	assert.Less(t, mm.at(1), mm.at(4))
	assert.Zero(t, tolerances["Permute"].at(1000))
}

func TestCaseNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCases() {
		key := c.op + " " + c.shape
		assert.False(t, seen[key], "duplicate case %s", key)
		seen[key] = true
		assert.False(t, strings.Contains(c.shape, "\n"))
	}
}
