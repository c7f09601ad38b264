package model

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/model/nn"
)

// Forward runs the model on a batch and returns its logits: causal LMs
// [B, T, V], T5 the decoder's [B, Tdec, V], sequence classification
// [B, num_labels], a bare encoder its last hidden state [B, T, D]. Errors
// are recorded in g (see nn.Graph.Err) and the result is then nil.
func (m *Model) Forward(g *nn.Graph, in *Inputs) *nn.Value {
	return m.ForwardCached(g, in, nil)
}

// ForwardCached is Forward continuing from cache: the keys and values of
// the tokens fed earlier. in holds only the new tokens (for T5, the new
// decoder tokens; the encoder runs on the first call only, and
// in.InputIDs is ignored after it); its AttentionMask covers the new
// tokens only. Positions continue after the cached ones unless
// in.PositionIDs says otherwise. The logits cover the new tokens. Caching
// needs a graph without gradients; a nil cache is plain Forward.
func (m *Model) ForwardCached(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	if g == nil {
		return nil
	}
	if g.Err() != nil {
		return nil
	}
	if m.b == nil {
		return g.Fail("model.Forward", errors.New("structure-only model (built without a backend) cannot run"))
	}
	if g.B != m.b {
		return g.Fail("model.Forward", errors.New("graph runs on another backend than the model's parameters"))
	}
	if err := in.validate(m.cfg); err != nil {
		return g.Fail("model.Forward", err)
	}
	if cache != nil {
		if g.Grad() {
			return g.Fail("model.Forward", errors.New("a KV cache needs a graph built without gradients"))
		}
		if cache.batch != in.Batch {
			return g.Fail("model.Forward", fmt.Errorf("KV cache holds batch %d, inputs have %d", cache.batch, in.Batch))
		}
		if cache.b != m.b {
			return g.Fail("model.Forward", errors.New("KV cache belongs to another backend"))
		}
	}
	return m.arch.forward(g, in, cache)
}

// Loss runs Forward and returns the loss transformers computes from
// in.Labels, as a [1] value:
//   - causal LM: cross-entropy of logits at t against labels at t+1 (the
//     shift happens here, as in transformers), -100 ignored, mean over
//     counted tokens;
//   - T5: cross-entropy of the decoder logits against labels;
//   - sequence classification: cross-entropy against class ids, or the
//     mean squared error against in.LabelsFloat when num_labels == 1 (or
//     problem_type "regression").
func (m *Model) Loss(g *nn.Graph, in *Inputs) *nn.Value {
	if g == nil || g.Err() != nil {
		return nil
	}
	if err := m.checkLabels(in); err != nil {
		return g.Fail("model.Loss", err)
	}
	return m.LossOf(g, m.Forward(g, in), in)
}

// LossOf is Loss on logits Forward already computed for in, so that
// callers may score one forward pass with several losses (a mixed-adapter
// batch, one loss per adapter's samples).
func (m *Model) LossOf(g *nn.Graph, logits *nn.Value, in *Inputs) *nn.Value {
	if g == nil || g.Err() != nil || logits == nil {
		return nil
	}
	if err := m.checkLabels(in); err != nil {
		return g.Fail("model.Loss", err)
	}
	c := m.cfg
	switch c.TaskType {
	case TaskCausalLM:
		B, T := in.Batch, in.Seq
		shifted := make([]int32, B*T)
		for b := 0; b < B; b++ {
			for t := 0; t < T; t++ {
				shifted[b*T+t] = IgnoreIndex
				if t+1 < T {
					shifted[b*T+t] = in.Labels[b*T+t+1]
				}
			}
		}
		flat := g.Reshape(logits, B*T, c.VocabSize)
		return g.CrossEntropy(flat, ints(g, shifted, B*T), IgnoreIndex)
	case TaskSeq2SeqLM:
		n := len(in.Labels)
		return g.CrossEntropy(g.Reshape(logits, n, c.VocabSize), ints(g, in.Labels, n), IgnoreIndex)
	case TaskSeqCls:
		if m.regression() {
			return g.MSE(logits, g.Input(floats(g, in.LabelsFloat, in.Batch, 1)))
		}
		return g.CrossEntropy(logits, ints(g, in.Labels, in.Batch), IgnoreIndex)
	}
	return g.Fail("model.Loss", fmt.Errorf("%s (%s) has no loss", c.Architecture, c.TaskType))
}

// regression reports whether sequence classification regresses one value.
func (m *Model) regression() bool {
	return m.cfg.ProblemType == "regression" || (m.cfg.ProblemType == "" && m.cfg.NumLabels == 1)
}

// checkLabels checks that in carries the labels the task's loss needs.
func (m *Model) checkLabels(in *Inputs) error {
	if in == nil {
		return errors.New("nil inputs")
	}
	c := m.cfg
	switch c.TaskType {
	case TaskCausalLM:
		if len(in.Labels) != in.Batch*in.Seq {
			return fmt.Errorf("causal LM labels: have %d, want batch·seq = %d", len(in.Labels), in.Batch*in.Seq)
		}
		return checkLabelRange(in.Labels, c.VocabSize)
	case TaskSeq2SeqLM:
		if in.DecoderInputIDs != nil && len(in.Labels) != in.Batch*in.DecoderSeq {
			return fmt.Errorf("seq2seq labels: have %d, want batch·decoder_seq = %d", len(in.Labels), in.Batch*in.DecoderSeq)
		}
		if len(in.Labels) == 0 {
			return errors.New("seq2seq labels: none given")
		}
		return checkLabelRange(in.Labels, c.VocabSize)
	case TaskSeqCls:
		if m.regression() {
			if len(in.LabelsFloat) != in.Batch {
				return fmt.Errorf("regression labels: have %d float labels, want batch = %d", len(in.LabelsFloat), in.Batch)
			}
			return nil
		}
		if len(in.Labels) != in.Batch {
			return fmt.Errorf("classification labels: have %d, want batch = %d", len(in.Labels), in.Batch)
		}
		return checkLabelRange(in.Labels, c.NumLabels)
	}
	return fmt.Errorf("%s (%s) has no loss", c.Architecture, c.TaskType)
}

// checkLabelRange checks that every label is -100 or a class in [0, n).
func checkLabelRange(labels []int32, n int) error {
	for i, l := range labels {
		if l != IgnoreIndex && (l < 0 || int(l) >= n) {
			return fmt.Errorf("label[%d] = %d is outside [0, %d) and not %d", i, l, n, IgnoreIndex)
		}
	}
	return nil
}
