package model

import (
	"fmt"
	"math"
	"slices"
)

// argmax returns the index of the largest logit, the first one on ties
// (as torch.argmax), and an error on NaN.
func argmax(logits []float32) (int32, error) {
	best := 0
	for i, v := range logits {
		if math.IsNaN(float64(v)) {
			return 0, fmt.Errorf("logit %d is NaN", i)
		}
		if v > logits[best] {
			best = i
		}
	}
	return int32(best), nil
}

// sample draws a token with the uniform number u in [0, 1) from
// softmax(logits / temperature) restricted to the top-k tokens and then to
// the smallest prefix of them whose probability reaches topP. Candidates
// are ordered by descending logit, ties by index, so top-k 1 is argmax.
func sample(logits []float32, temperature float64, topK int, topP float64, u float64) (int32, error) {
	idx := make([]int32, len(logits))
	for i, v := range logits {
		if math.IsNaN(float64(v)) {
			return 0, fmt.Errorf("logit %d is NaN", i)
		}
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return int(a - b)
	})
	if topK > 0 && topK < len(idx) {
		idx = idx[:topK]
	}
	probs := make([]float64, len(idx))
	top := float64(logits[idx[0]]) / temperature
	var sum float64
	for i, id := range idx {
		probs[i] = math.Exp(float64(logits[id])/temperature - top)
		sum += probs[i]
	}
	if topP > 0 && topP < 1 {
		// Keep tokens while the probability before them is below topP:
		// the first token always stays.
		var cum float64
		n := len(probs)
		for i, p := range probs {
			if cum >= topP*sum {
				n = i
				break
			}
			cum += p
		}
		probs, idx, sum = probs[:n], idx[:n], cum
	}
	target := u * sum
	for i, p := range probs {
		target -= p
		if target < 0 {
			return idx[i], nil
		}
	}
	return idx[len(idx)-1], nil
}
