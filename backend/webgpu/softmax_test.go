//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
)

func TestSoftmaxHandValues(t *testing.T) {
	k := newOpKit(t)
	// softmax(1, 2, 3) = e^(x-3) / Σ; the second row has its last key masked
	// by causality (Tq = Tk = 2: query 0 sees key 0 only).
	y, err := k.b.Softmax(k.f32([]float32{1, 2, 3}, 1, 1, 1, 3), backend.SoftmaxOptions{})
	require.NoError(t, err)
	assertClose(t, []float64{0.0900305732, 0.2447284711, 0.6652409558}, k.get(y), 1e-6)

	y, err = k.b.Softmax(k.f32([]float32{5, 7, 1, 1}, 1, 1, 2, 2), backend.SoftmaxOptions{Causal: true})
	require.NoError(t, err)
	assertClose(t, []float64{1, 0, 0.5, 0.5}, k.get(y), 1e-6)
}

func TestSoftmax(t *testing.T) {
	k := newOpKit(t)
	type shape struct{ b, h, tq, tk int }
	for _, tc := range []struct {
		name       string
		s          shape
		scale      float32
		causal     bool
		keyMask    []float32 // [B, Tk] or nil
		bias       bool
		biasPerB   bool
		allMaskedB int // batch whose key mask is all zeros, or -1
	}{
		{name: "plain", s: shape{2, 3, 4, 5}, allMaskedB: -1},
		{name: "single key", s: shape{1, 2, 3, 1}, allMaskedB: -1},
		{name: "scale", s: shape{1, 2, 3, 7}, scale: 0.125, allMaskedB: -1},
		{name: "causal square", s: shape{2, 2, 6, 6}, causal: true, allMaskedB: -1},
		{name: "causal kv cache", s: shape{2, 2, 3, 8}, causal: true, allMaskedB: -1},
		{name: "causal one query", s: shape{1, 2, 1, 9}, causal: true, allMaskedB: -1},
		{name: "causal more queries than keys", s: shape{1, 1, 5, 3}, causal: true, allMaskedB: -1},
		{name: "key mask", s: shape{2, 2, 3, 5}, keyMask: []float32{1, 1, 0, 1, 0, 0, 1, 1, 1, 1}, allMaskedB: -1},
		{name: "key mask all masked", s: shape{2, 1, 2, 4}, keyMask: []float32{0, 0, 0, 0, 1, 0, 1, 1}, allMaskedB: 0},
		{name: "causal + key mask", s: shape{2, 2, 4, 4}, causal: true, keyMask: []float32{0, 1, 1, 1, 1, 1, 1, 0}, allMaskedB: -1},
		{name: "shared bias", s: shape{2, 3, 4, 6}, scale: 0.5, bias: true, allMaskedB: -1},
		{name: "per-batch bias", s: shape{2, 3, 4, 6}, bias: true, biasPerB: true, allMaskedB: -1},
		{name: "everything", s: shape{2, 2, 3, 5}, scale: 0.3, causal: true, keyMask: []float32{1, 0, 1, 1, 1, 1, 1, 1, 0, 1}, bias: true, allMaskedB: -1},
		{name: "long rows", s: shape{1, 2, 3, 1000}, scale: 0.7, causal: true, allMaskedB: -1},
		{name: "row past a workgroup", s: shape{2, 1, 2, 257}, bias: true, allMaskedB: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			n := s.b * s.h * s.tq * s.tk
			x := randVals(uint64(n), n, 0, 4)
			o := backend.SoftmaxOptions{Scale: tc.scale, Causal: tc.causal}
			ro := ref.SoftmaxOpts{Scale: scaleUsed(tc.scale), Causal: tc.causal, KeyMask: refOpt(t, tc.keyMask, s.b, s.tk)}
			if tc.keyMask != nil {
				o.KeyMask = k.f32(tc.keyMask, s.b, s.tk)
			}
			if tc.bias {
				biasShape := []int{s.h, s.tq, s.tk}
				if tc.biasPerB {
					biasShape = []int{s.b, s.h, s.tq, s.tk}
				}
				bias := randVals(7, numel(biasShape), 0, 2)
				o.Bias, ro.Bias = k.f32(bias, biasShape...), refOpt(t, bias, biasShape...)
			}
			y, err := k.b.Softmax(k.f32(x, s.b, s.h, s.tq, s.tk), o)
			require.NoError(t, err)
			want := refOK(t)(ref.Softmax(refT(t, x, s.b, s.h, s.tq, s.tk), ro))
			got := k.get(y)
			assertClose(t, want, got, 1e-5)
			if tc.allMaskedB >= 0 {
				// Every row of that batch is uniform over all its keys.
				row := s.h * s.tq * s.tk
				for _, v := range got[tc.allMaskedB*row : (tc.allMaskedB+1)*row] {
					require.InDelta(t, 1/float64(s.tk), v, 1e-7)
				}
			}
		})
	}
}

func TestSoftmaxBackwardHandValues(t *testing.T) {
	k := newOpKit(t)
	// y = (0.25, 0.75, 0) with the last key masked, dy = (1, 2, 3):
	// Σ dy·y = 1.75, dx = y·(dy − 1.75) = (−0.1875, 0.1875, 0), times scale.
	dx, err := k.b.SoftmaxBackward(k.f32([]float32{0.25, 0.75, 0}, 1, 1, 1, 3), k.f32([]float32{1, 2, 3}, 1, 1, 1, 3), 2)
	require.NoError(t, err)
	assertClose(t, []float64{-0.375, 0.375, 0}, k.get(dx), 1e-7)
}

func TestSoftmaxBackward(t *testing.T) {
	k := newOpKit(t)
	for _, tc := range []struct {
		name         string
		b, h, tq, tk int
		scale        float32
	}{
		{"unit scale", 1, 2, 3, 5, 1},
		{"scale 0 means 1", 1, 1, 2, 4, 0},
		{"scaled", 2, 2, 3, 7, 0.125},
		{"row past a workgroup", 1, 1, 2, 600, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape := []int{tc.b, tc.h, tc.tq, tc.tk}
			n := numel(shape)
			x := randVals(uint64(n)+1, n, 0, 3)
			dy := randVals(uint64(n)+2, n, 0, 1)
			y := f32s(refOK(t)(ref.Softmax(refT(t, x, shape...), ref.SoftmaxOpts{Scale: scaleUsed(tc.scale)})))
			dx, err := k.b.SoftmaxBackward(k.f32(y, shape...), k.f32(dy, shape...), tc.scale)
			require.NoError(t, err)
			want := refOK(t)(ref.SoftmaxBackward(refT(t, y, shape...), refT(t, dy, shape...), scaleUsed(tc.scale)))
			assertClose(t, want, k.get(dx), 1e-4)
		})
	}
}

// scaleUsed is the softmax scale a backend applies: 0 means 1.
func scaleUsed(scale float32) float64 {
	if scale == 0 {
		return 1
	}
	return float64(scale)
}

// numel is the number of elements of a shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func BenchmarkSoftmaxCausal(b *testing.B) {
	k := newOpKit(b)
	const bsz, h, tq = 1, 12, 256
	x := k.f32(randVals(1, bsz*h*tq*tq, 0, 2), bsz, h, tq, tq)
	for b.Loop() {
		y, err := k.b.Softmax(x, backend.SoftmaxOptions{Scale: 0.125, Causal: true})
		require.NoError(b, err)
		require.NoError(b, k.b.Sync())
		k.b.Free(y)
	}
}
