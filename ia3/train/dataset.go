package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ia3/ia3/model"
)

// dataset is a tokenised split.
type dataset struct {
	task       string
	regression bool
	padID      int32
	examples   []example
	// skipped counts the examples left out for having no token the loss
	// counts (evaluation data only).
	skipped int
}

// split moves a fraction of the examples (at least one) into a second
// dataset, chosen by a permutation seeded by seed.
func (d *dataset) split(frac float64, seed uint64) (*dataset, *dataset, error) {
	n := len(d.examples)
	k := int(math.Round(frac * float64(n)))
	if k < 1 {
		k = 1
	}
	if k >= n {
		return nil, nil, fmt.Errorf("eval fraction %g of %d examples leaves none to train on", frac, n)
	}
	perm := rand.New(rand.NewPCG(seed, 0x5eed5)).Perm(n)
	train := &dataset{task: d.task, regression: d.regression, padID: d.padID}
	eval := &dataset{task: d.task, regression: d.regression, padID: d.padID}
	for i, p := range perm {
		if i < k {
			eval.examples = append(eval.examples, d.examples[p])
		} else {
			train.examples = append(train.examples, d.examples[p])
		}
	}
	return train, eval, nil
}

// batch assembles the examples at idx into right-padded inputs and
// reports the number of real tokens and of tokens the loss counts.
func (d *dataset) batch(idx []int) (in *model.Inputs, tokens, counted int) {
	B := len(idx)
	T := 0
	D := 0
	for _, i := range idx {
		T = max(T, len(d.examples[i].ids))
		D = max(D, len(d.examples[i].labels))
	}
	in = &model.Inputs{Batch: B, Seq: T,
		InputIDs: make([]int32, B*T), AttentionMask: make([]int32, B*T)}
	for b, i := range idx {
		ex := d.examples[i]
		for t := range T {
			if t < len(ex.ids) {
				in.InputIDs[b*T+t], in.AttentionMask[b*T+t] = ex.ids[t], 1
				tokens++
			} else {
				in.InputIDs[b*T+t] = d.padID
			}
		}
	}
	switch d.task {
	case taskCausal:
		in.Labels = padLabels(d, idx, T)
		for b := range B {
			counted += countCausal(in.Labels[b*T : (b+1)*T])
		}
	case taskSeq2Seq:
		in.Labels = padLabels(d, idx, D)
		in.DecoderSeq = D
		for _, l := range in.Labels {
			if l != model.IgnoreIndex {
				counted++
				tokens++
			}
		}
	case taskSeqCls:
		counted = B
		for _, i := range idx {
			if d.regression {
				in.LabelsFloat = append(in.LabelsFloat, d.examples[i].value)
			} else {
				in.Labels = append(in.Labels, d.examples[i].class)
			}
		}
	}
	return in, tokens, counted
}

// padLabels lays the examples' labels out [B, n], -100 past each end.
func padLabels(d *dataset, idx []int, n int) []int32 {
	out := make([]int32, len(idx)*n)
	for b, i := range idx {
		l := d.examples[i].labels
		for t := range n {
			out[b*n+t] = model.IgnoreIndex
			if t < len(l) {
				out[b*n+t] = l[t]
			}
		}
	}
	return out
}
