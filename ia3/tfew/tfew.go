// Package tfew implements the training recipe of T-Few (Liu et al. 2022,
// "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
// In-Context Learning", the paper that introduced (IA)³), which PEFT
// leaves out: besides the usual cross-entropy on the correct answer, an
// unlikelihood loss that pushes down the tokens of the incorrect answer
// choices and a length-normalised loss that ranks the correct choice above
// the others; and rank classification, which scores every answer choice by
// its (length-normalised) log-likelihood and predicts the best.
//
// Each example is a prompt and its answer choices. Seq2seq models (T5/T0)
// read the prompt with the encoder and each choice is a decoder target;
// causal LMs read prompt and choice concatenated, the loss counting the
// choice's tokens only. One example runs as one batch of its choices.
//
// The losses follow t-few's EncoderDecoder.training_step (r-three/t-few)
// for one example: L_LM is the mean cross-entropy of the correct choice's
// tokens; L_LN is the cross-entropy of the softmax over the choices of
// their scores −(mean token NLL); L_UL is −Σ log(1 − p(y_t) + 0.01) over
// the tokens y_t of the incorrect choices, divided by their number. t-few's
// sum also holds a constant −log(1.01) for every padded or correct-choice
// position; it changes the reported value, never the gradient, and is left
// out here.
package tfew

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// Example is one multiple-choice example, tokenised.
type Example struct {
	// Input is the prompt: the encoder's input for seq2seq models, the
	// prefix every choice continues for causal LMs.
	Input []int32
	// Choices holds each answer choice's ids (for seq2seq, with the end of
	// sequence token the tokenizer appends).
	Choices [][]int32
	// Label is the index of the correct choice; scoring alone ignores it.
	Label int
}

// Weights are the weights of the three losses in the total; the paper
// adds them with weight 1 each (DefaultWeights). A zero weight skips the
// loss's computation.
type Weights struct {
	LM, UL, LN float64
}

// DefaultWeights returns the paper's weights: L = L_LM + L_UL + L_LN.
func DefaultWeights() Weights { return Weights{LM: 1, UL: 1, LN: 1} }

// Validate refuses negative or non-finite weights and an all-zero set.
func (w Weights) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"lm", w.LM}, {"ul", w.UL}, {"ln", w.LN}} {
		if !(f.v >= 0) || f.v > 1e30 {
			return fmt.Errorf("t-few %s loss weight %v: want a finite number >= 0", f.name, f.v)
		}
	}
	if w.LM == 0 && w.UL == 0 && w.LN == 0 {
		return errors.New("t-few loss weights are all zero: nothing to train")
	}
	return nil
}

// Losses are the recipe's losses for one example, each [1]. A term whose
// weight is zero, or UL for an example with a single choice, is nil.
type Losses struct {
	Total, LM, UL, LN *nn.Value
}

// ulEps is t-few's 1e-2 inside the unlikelihood loss's log, keeping it
// finite when the model is sure of an incorrect token.
const ulEps = 0.01

// layout says where each choice's tokens sit in the logits of one example
// run as a batch of its choices: row r of the flattened [rows, V] logits
// predicts targets[r] (model.IgnoreIndex elsewhere), and choice c owns
// rows[c].
type layout struct {
	in      *model.Inputs
	targets []int32
	rows    [][]int // per choice, the rows that predict its tokens
}

// Validate checks ex against a vocabulary of vocab ids: at least one
// choice, none empty, ids in range, label in range when labelled.
func (ex Example) Validate(vocab int, labelled bool) error {
	if len(ex.Choices) == 0 {
		return errors.New("no answer choices")
	}
	if labelled && (ex.Label < 0 || ex.Label >= len(ex.Choices)) {
		return fmt.Errorf("label %d is not a choice index [0, %d)", ex.Label, len(ex.Choices))
	}
	check := func(what string, ids []int32) error {
		for _, id := range ids {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("%s: token id %d is outside the model's vocabulary (%d)", what, id, vocab)
			}
		}
		return nil
	}
	if err := check("input", ex.Input); err != nil {
		return err
	}
	for c, ch := range ex.Choices {
		if len(ch) == 0 {
			return fmt.Errorf("choice %d has no tokens", c)
		}
		if err := check(fmt.Sprintf("choice %d", c), ch); err != nil {
			return err
		}
	}
	return nil
}

// newLayout builds the batch of ex's choices for a model of cfg.
func newLayout(cfg *model.Config, ex Example) (*layout, error) {
	C := len(ex.Choices)
	maxChoice := 0
	for _, ch := range ex.Choices {
		maxChoice = max(maxChoice, len(ch))
	}
	l := &layout{rows: make([][]int, C)}
	switch cfg.TaskType {
	case model.TaskSeq2SeqLM:
		if len(ex.Input) == 0 {
			return nil, errors.New("the input has no tokens (a seq2seq model needs an encoder input)")
		}
		T, D := len(ex.Input), maxChoice
		in := &model.Inputs{Batch: C, Seq: T, InputIDs: make([]int32, 0, C*T), DecoderSeq: D, Labels: make([]int32, C*D)}
		for c, ch := range ex.Choices {
			in.InputIDs = append(in.InputIDs, ex.Input...)
			for t := range D {
				in.Labels[c*D+t] = model.IgnoreIndex
				if t < len(ch) {
					in.Labels[c*D+t] = ch[t]
					l.rows[c] = append(l.rows[c], c*D+t)
				}
			}
		}
		l.in, l.targets = in, in.Labels
	case model.TaskCausalLM:
		if len(ex.Input) == 0 {
			return nil, errors.New("the input has no tokens (a causal LM scores a choice after its prompt)")
		}
		P := len(ex.Input)
		T := P + maxChoice
		in := &model.Inputs{Batch: C, Seq: T, InputIDs: make([]int32, C*T), AttentionMask: make([]int32, C*T)}
		l.targets = make([]int32, C*T)
		for c, ch := range ex.Choices {
			row := in.InputIDs[c*T : (c+1)*T]
			copy(row, ex.Input)
			copy(row[P:], ch)
			for t := range T {
				l.targets[c*T+t] = model.IgnoreIndex
				if t < P+len(ch) {
					in.AttentionMask[c*T+t] = 1
				}
			}
			// Position t predicts token t+1: the choice's tokens are
			// predicted from positions P-1 … P+len-2.
			for i := range ch {
				r := c*T + P - 1 + i
				l.targets[r] = ch[i]
				l.rows[c] = append(l.rows[c], r)
			}
		}
		l.in = in
	default:
		return nil, fmt.Errorf("%s (%s) cannot score answer choices: the T-Few recipe needs a causal LM or a seq2seq model", cfg.Architecture, cfg.TaskType)
	}
	return l, nil
}

// choiceNLL returns each choice's mean token negative log-likelihood, [1]
// each, from logits flat [rows, V]: a cross-entropy whose labels keep the
// choice's rows only.
func (l *layout) choiceNLL(g *nn.Graph, flat *nn.Value) []*nn.Value {
	out := make([]*nn.Value, len(l.rows))
	for c, rows := range l.rows {
		labels := make([]int32, len(l.targets))
		for i := range labels {
			labels[i] = model.IgnoreIndex
		}
		for _, r := range rows {
			labels[r] = l.targets[r]
		}
		out[c] = g.CrossEntropy(flat, upload(g, labels), model.IgnoreIndex)
	}
	return out
}

// upload puts ids on g's device, owned by g; nil after a failure.
func upload(g *nn.Graph, ids []int32) backend.Tensor {
	if g.Err() != nil {
		return nil
	}
	t, err := g.B.FromInt32(ids, len(ids))
	if err != nil {
		g.Fail("tfew: upload", err)
		return nil
	}
	return g.Own(t)
}

// lossesOf computes the recipe's losses from the flat logits [rows, V] of
// the example's batch.
func (l *layout) lossesOf(g *nn.Graph, flat *nn.Value, label int, w Weights) Losses {
	var ls Losses
	nll := l.choiceNLL(g, flat)
	if g.Err() != nil {
		return ls
	}
	if w.LM > 0 {
		ls.LM = nll[label]
	}
	if w.LN > 0 {
		scores := make([]*nn.Value, len(nll))
		for c, v := range nll {
			scores[c] = g.Affine(v, -1, 0)
		}
		row := g.Reshape(g.Concat(0, scores...), 1, len(nll))
		ls.LN = g.CrossEntropy(row, upload(g, []int32{int32(label)}), model.IgnoreIndex)
	}
	if w.UL > 0 {
		ls.UL = l.unlikelihood(g, flat, label)
	}
	for _, t := range []struct {
		v *nn.Value
		w float64
	}{{ls.LM, w.LM}, {ls.UL, w.UL}, {ls.LN, w.LN}} {
		if t.v == nil {
			continue
		}
		term := t.v
		if t.w != 1 {
			term = g.Affine(t.v, float32(t.w), 0)
		}
		if ls.Total == nil {
			ls.Total = term
		} else {
			ls.Total = g.Add(ls.Total, term)
		}
	}
	return ls
}

// unlikelihood returns −mean log(1 − p(y) + 0.01) over the tokens y of the
// incorrect choices, p the softmax of their rows' logits; nil when every
// choice is the correct one (a single choice).
func (l *layout) unlikelihood(g *nn.Graph, flat *nn.Value, label int) *nn.Value {
	shape := flat.Shape()
	rows, vocab := shape[0], shape[1]
	var pick []int32
	for c, rs := range l.rows {
		if c == label {
			continue
		}
		for _, r := range rs {
			pick = append(pick, int32(r*vocab)+l.targets[r])
		}
	}
	if len(pick) == 0 {
		return nil
	}
	k := len(pick)
	// The backend's softmax runs over the last axis of a 4-D tensor.
	p := g.Softmax(g.Reshape(flat, 1, 1, rows, vocab), backend.SoftmaxOptions{})
	py := g.Gather(g.Reshape(p, rows*vocab, 1), upload(g, pick)) // [k, 1]
	logq := g.Act(backend.Log, g.Affine(py, -1, 1+ulEps))
	ones := make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	if g.Err() != nil {
		return nil
	}
	ot, err := g.B.FromFloat32(ones, k, 1)
	if err != nil {
		return g.Fail("tfew: unlikelihood", err)
	}
	// −(1/k)·Σ log q as [1, k]·[k, 1].
	sum := g.MatMul(g.Reshape(logq, 1, k), g.Input(ot), backend.MatMulOptions{Alpha: -1 / float32(k)})
	return g.Reshape(sum, 1)
}

// Loss runs m on ex's choices and returns the recipe's losses with
// weights w; Total is what to differentiate. Errors are recorded in g
// (nn.Graph.Err) and the losses are then nil.
func Loss(g *nn.Graph, m *model.Model, ex Example, w Weights) Losses {
	const op = "tfew.Loss"
	if g == nil || g.Err() != nil {
		return Losses{}
	}
	if err := w.Validate(); err != nil {
		g.Fail(op, err)
		return Losses{}
	}
	l, flat := forward(g, m, ex, true)
	if flat == nil {
		return Losses{}
	}
	return l.lossesOf(g, flat, ex.Label, w)
}

// forward checks ex, runs m on its choices and returns the layout and the
// logits flattened to [rows, V].
func forward(g *nn.Graph, m *model.Model, ex Example, labelled bool) (*layout, *nn.Value) {
	const op = "tfew"
	cfg := m.Config()
	if err := ex.Validate(cfg.VocabSize, labelled); err != nil {
		g.Fail(op, err)
		return nil, nil
	}
	l, err := newLayout(cfg, ex)
	if err != nil {
		g.Fail(op, err)
		return nil, nil
	}
	logits := m.Forward(g, l.in)
	if logits == nil {
		return nil, nil
	}
	return l, g.Reshape(logits, len(l.targets), cfg.VocabSize)
}
