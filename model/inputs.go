package model

import (
	"fmt"

	"github.com/ia3/ia3/model/safetensors"
)

// Inputs is one batch, laid out row-major [Batch, Seq] as transformers'
// forward arguments are.
type Inputs struct {
	Batch, Seq int
	// InputIDs holds Batch·Seq token ids.
	InputIDs []int32
	// AttentionMask holds Batch·Seq entries, 1 for a real token and 0 for
	// padding; nil means all ones. With a KVCache it covers only this
	// call's tokens: the cache remembers the mask of earlier steps.
	AttentionMask []int32
	// PositionIDs, when non-nil, holds Batch·Seq positions for the
	// architectures with learned or rotary positions (GPT-2, Llama family);
	// nil means 0,1,2,… continuing after any cached tokens, as transformers'
	// forward does. Generation with left padding passes cumsum(mask)−1.
	PositionIDs []int32
	// TokenTypeIDs (BERT, RoBERTa) holds Batch·Seq segment ids; nil = zeros.
	TokenTypeIDs []int32
	// DecoderInputIDs (T5) holds Batch·DecoderSeq ids; nil derives them
	// from Labels shifted right, as transformers does.
	DecoderInputIDs []int32
	DecoderSeq      int
	// Labels: causal LM Batch·Seq and T5 Batch·DecoderSeq token ids with
	// -100 ignored; sequence classification Batch class ids.
	Labels []int32
	// LabelsFloat holds Batch targets for regression (num_labels == 1).
	LabelsFloat []float32
	// LastOnly makes a causal LM return the logits
	// of each row's last position only, [Batch, 1, V]: generation needs no
	// others, and the output head over every prompt token is the largest
	// product of a prefill.
	LastOnly bool
}

// IgnoreIndex is the label value losses skip, as in transformers.
const IgnoreIndex = -100

// InputsFromSafetensors reads a batch saved as the fixtures'
// inputs.safetensors: int64 input_ids [B, T], and where present
// attention_mask, labels, token_type_ids and decoder_input_ids.
func InputsFromSafetensors(path string) (*Inputs, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read inputs: %w", err)
	}
	defer f.Close()
	info, ok := f.Info("input_ids")
	if !ok {
		return nil, fmt.Errorf("%s: no tensor \"input_ids\"", path)
	}
	if len(info.Shape) != 2 {
		return nil, fmt.Errorf("%s: input_ids has shape %v, want [batch, seq]", path, info.Shape)
	}
	in := &Inputs{Batch: info.Shape[0], Seq: info.Shape[1]}
	read := func(name string, want func(shape []int) bool) ([]int32, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, nil
		}
		if !want(info.Shape) {
			return nil, fmt.Errorf("%s: %s has shape %v, which does not fit input_ids %v", path, name, info.Shape, []int{in.Batch, in.Seq})
		}
		v, err := f.Int32(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		return v, nil
	}
	sameAsInput := func(s []int) bool { return len(s) == 2 && s[0] == in.Batch && s[1] == in.Seq }
	if in.InputIDs, err = read("input_ids", sameAsInput); err != nil {
		return nil, err
	}
	if in.AttentionMask, err = read("attention_mask", sameAsInput); err != nil {
		return nil, err
	}
	if in.TokenTypeIDs, err = read("token_type_ids", sameAsInput); err != nil {
		return nil, err
	}
	if dinfo, ok := f.Info("decoder_input_ids"); ok && len(dinfo.Shape) == 2 {
		in.DecoderSeq = dinfo.Shape[1]
	}
	batchRows := func(s []int) bool { return len(s) == 2 && s[0] == in.Batch }
	if in.DecoderInputIDs, err = read("decoder_input_ids", batchRows); err != nil {
		return nil, err
	}
	labels := func(s []int) bool { return len(s) >= 1 && s[0] == in.Batch && len(s) <= 2 }
	if linfo, ok := f.Info("labels"); ok {
		if linfo.DType == safetensors.F32 || linfo.DType == safetensors.F64 {
			if !labels(linfo.Shape) {
				return nil, fmt.Errorf("%s: labels has shape %v, want [%d] or [%d, n]", path, linfo.Shape, in.Batch, in.Batch)
			}
			if in.LabelsFloat, err = f.Float32("labels"); err != nil {
				return nil, fmt.Errorf("%s: labels: %w", path, err)
			}
		} else {
			if in.Labels, err = read("labels", labels); err != nil {
				return nil, err
			}
			if len(linfo.Shape) == 2 && in.DecoderInputIDs == nil && linfo.Shape[1] != in.Seq {
				in.DecoderSeq = linfo.Shape[1]
			}
		}
	}
	return in, nil
}

// validate checks the batch against the model's configuration: lengths,
// token ids within the vocabulary, and what each task needs.
func (in *Inputs) validate(c *Config) error {
	if in == nil {
		return fmt.Errorf("nil inputs")
	}
	if in.Batch <= 0 || in.Seq <= 0 {
		return fmt.Errorf("inputs: batch %d and seq %d must be positive", in.Batch, in.Seq)
	}
	n := in.Batch * in.Seq
	if err := checkIDs("input_ids", in.InputIDs, n, c.VocabSize); err != nil {
		return err
	}
	if in.AttentionMask != nil {
		if len(in.AttentionMask) != n {
			return fmt.Errorf("inputs: attention_mask has %d entries, want batch·seq = %d", len(in.AttentionMask), n)
		}
		for i, v := range in.AttentionMask {
			if v != 0 && v != 1 {
				return fmt.Errorf("inputs: attention_mask[%d] = %d, want 0 or 1", i, v)
			}
		}
	}
	if in.PositionIDs != nil {
		if err := checkIDs("position_ids", in.PositionIDs, n, 1<<30); err != nil {
			return err
		}
	}
	if in.TokenTypeIDs != nil {
		types := c.TypeVocabSize
		if types == 0 {
			return fmt.Errorf("inputs: token_type_ids given but %s has no token types", c.ModelType)
		}
		if err := checkIDs("token_type_ids", in.TokenTypeIDs, n, types); err != nil {
			return err
		}
	}
	if in.DecoderInputIDs != nil {
		if in.DecoderSeq <= 0 {
			return fmt.Errorf("inputs: decoder_input_ids given with decoder seq %d", in.DecoderSeq)
		}
		if err := checkIDs("decoder_input_ids", in.DecoderInputIDs, in.Batch*in.DecoderSeq, c.VocabSize); err != nil {
			return err
		}
	}
	return nil
}

// checkIDs checks that ids has n entries, each in [0, limit).
func checkIDs(name string, ids []int32, n, limit int) error {
	if len(ids) != n {
		return fmt.Errorf("inputs: %s has %d entries, want %d", name, len(ids), n)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= limit {
			return fmt.Errorf("inputs: %s[%d] = %d is outside [0, %d)", name, i, id, limit)
		}
	}
	return nil
}

// mask returns the attention mask as float32 (1 keep, 0 pad), all ones
// when nil.
func (in *Inputs) mask() []float32 {
	out := make([]float32, in.Batch*in.Seq)
	for i := range out {
		if in.AttentionMask == nil || in.AttentionMask[i] != 0 {
			out[i] = 1
		}
	}
	return out
}

// PositionIDsFromMask returns the position ids transformers' generate
// gives a left-padded batch: cumsum(mask)−1 along each row, and 1 on
// padding. mask holds batch·seq entries.
func PositionIDsFromMask(mask []int32, batch, seq int) []int32 {
	out := make([]int32, batch*seq)
	for b := 0; b < batch; b++ {
		var n int32
		for t := 0; t < seq; t++ {
			i := b*seq + t
			n += mask[i]
			out[i] = n - 1
			if mask[i] == 0 {
				out[i] = 1
			}
		}
	}
	return out
}
