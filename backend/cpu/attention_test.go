package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ia3/ia3/backend"
)

func TestSoftmax(t *testing.T) {
	b := open(t)
	// One batch, one head, two queries over three keys.
	scores := f32s(t, b, []float32{1, 2, 3, 1, 1, 1}, 1, 1, 2, 3)
	third := 1.0 / 3
	tests := []struct {
		name string
		o    backend.SoftmaxOptions
		want []float64
	}{
		{"plain", backend.SoftmaxOptions{}, []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219, third, third, third}},
		// Tk − Tq = 1: query 0 sees keys 0-1, query 1 sees all three.
		{"causal offset", backend.SoftmaxOptions{Causal: true}, []float64{0.2689414213699951, 0.7310585786300049, 0, third, third, third}},
		{"key mask", backend.SoftmaxOptions{KeyMask: f32s(t, b, []float32{1, 0, 1}, 1, 3)},
			[]float64{0.11920292202211755, 0, 0.8807970779778823, 0.5, 0, 0.5}},
		{"all masked is uniform", backend.SoftmaxOptions{KeyMask: f32s(t, b, []float32{0, 0, 0}, 1, 3)},
			[]float64{third, third, third, third, third, third}},
		// Logits 2x + bias: row 1 → [2, 4, 4], row 2 → [2, 2, 2+ln 2].
		{"scale and bias", backend.SoftmaxOptions{Scale: 2, Bias: f32s(t, b, []float32{0, 0, -2, 0, 0, float32(math.Ln2)}, 1, 2, 3)},
			[]float64{0.06337894, 0.46831053, 0.46831053, 0.25, 0.25, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := values(t, b, must(t)(b.Softmax(scores, tc.o)), 1, 1, 2, 3)
			assert.InDeltaSlice(t, tc.want, got, 1e-6)
		})
	}
}

func TestSoftmaxCausalMoreQueriesThanKeys(t *testing.T) {
	b := open(t)
	// Tq = 3, Tk = 2: query 0 sees no key (uniform), query 1 key 0, query 2 both.
	scores := f32s(t, b, []float32{5, 1, 5, 1, 0, 0}, 1, 1, 3, 2)
	got := values(t, b, must(t)(b.Softmax(scores, backend.SoftmaxOptions{Causal: true})), 1, 1, 3, 2)
	assert.InDeltaSlice(t, []float64{0.5, 0.5, 1, 0, 0.5, 0.5}, got, 1e-7)
}

func TestSoftmaxPerBatchBiasAndMask(t *testing.T) {
	b := open(t)
	// B = 2, H = 1, Tq = 1, Tk = 2; sample 1 masks key 1, sample 2 is biased.
	scores := f32s(t, b, []float32{0, 0, 0, 0}, 2, 1, 1, 2)
	got := values(t, b, must(t)(b.Softmax(scores, backend.SoftmaxOptions{
		KeyMask: f32s(t, b, []float32{1, 0, 1, 1}, 2, 2),
		Bias:    f32s(t, b, []float32{9, 9, 0, float32(math.Ln2 * 2)}, 2, 1, 1, 2),
	})), 2, 1, 1, 2)
	assert.InDeltaSlice(t, []float64{1, 0, 0.2, 0.8}, got, 1e-6)
}

func TestSoftmaxBackward(t *testing.T) {
	b := open(t)
	y := f32s(t, b, []float32{0.2, 0.3, 0.5, 0, 1, 0}, 1, 1, 2, 3)
	dy := f32s(t, b, []float32{1, 0, 0, 7, 1, 2}, 1, 1, 2, 3)
	got := values(t, b, must(t)(b.SoftmaxBackward(y, dy, 2)), 1, 1, 2, 3)
	// Row 1: Σy·dy = 0.2 → 2·y·(dy − 0.2); row 2 is one-hot: all zero.
	assert.InDeltaSlice(t, []float64{0.32, -0.12, -0.2, 0, 0, 0}, got, 1e-7)
}

func TestRope(t *testing.T) {
	b := open(t)
	row := []float32{1, 2, 3, 4}
	x := f32s(t, b, append(append([]float32(nil), row...), row...), 1, 1, 2, 4)
	freq := f32s(t, b, []float32{1, 0.5}, 2)
	got := values(t, b, must(t)(b.Rope(x, backend.RopeOptions{InvFreq: freq, Positions: i32s(t, b, []int32{0, 1}, 2)})), 1, 1, 2, 4)
	c1, s1, c2, s2 := math.Cos(1), math.Sin(1), math.Cos(0.5), math.Sin(0.5)
	want := []float64{1, 2, 3, 4, // position 0: no rotation
		1*c1 - 3*s1, 2*c2 - 4*s2, 3*c1 + 1*s1, 4*c2 + 2*s2}
	assert.InDeltaSlice(t, want, got, 1e-6)

	// Batch positions and a partial rotation: D = 6, R = 2, features 2-5 copied.
	x6 := f32s(t, b, []float32{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 2, 1, 1, 6)
	part := values(t, b, must(t)(b.Rope(x6, backend.RopeOptions{
		InvFreq:   f32s(t, b, []float32{1}, 1),
		Positions: i32s(t, b, []int32{0, 2}, 2, 1),
	})), 2, 1, 1, 6)
	c, s := math.Cos(2), math.Sin(2)
	assert.InDeltaSlice(t, []float64{1, 2, 3, 4, 5, 6, c - 2*s, 2*c + s, 3, 4, 5, 6}, part, 1e-6)

	// Inverse undoes the rotation.
	fwd := must(t)(b.Rope(x, backend.RopeOptions{InvFreq: freq, Positions: i32s(t, b, []int32{3, 7}, 2)}))
	back := values(t, b, must(t)(b.Rope(fwd, backend.RopeOptions{InvFreq: freq, Positions: i32s(t, b, []int32{3, 7}, 2), Inverse: true})), 1, 1, 2, 4)
	assert.InDeltaSlice(t, []float64{1, 2, 3, 4, 1, 2, 3, 4}, back, 1e-6)
}
