package model

import (
	"fmt"
	"math"
	"slices"
)

// Ceilings on config.json sizes, checked before anything is allocated.
// They sit far above every published model (the largest vocabularies hold
// about 2.6·10⁵ tokens, the widest layers about 5·10⁴ features, the longest
// contexts about 10⁷ positions, the largest dense models about 4·10¹¹
// parameters), so a value past them is a typo or a hostile file.
const (
	// MaxDimension bounds every size field: vocabulary, widths, layers,
	// heads, positions, labels, buckets.
	MaxDimension = 1 << 24
	// MaxParams bounds the parameter count a config describes (about
	// 1.1·10¹²), so that counts and byte sizes stay far from int64's range.
	MaxParams = 1 << 40
)

// sizeField is one size of a config, under its config.json key.
type sizeField struct {
	key string
	v   int
}

// sizeFields lists the sizes of c's family in config.json order, under
// the keys the family's config.json uses.
func (c *Config) sizeFields() []sizeField {
	switch c.ModelType {
	case "gpt2", "gpt_bigcode":
		return []sizeField{{"vocab_size", c.VocabSize}, {"n_positions", c.MaxPositions}, {"n_embd", c.Hidden},
			{"n_layer", c.Layers}, {"n_head", c.Heads}, {"n_inner", c.Intermediate}}
	case "t5", "mt5":
		return []sizeField{{"vocab_size", c.VocabSize}, {"d_model", c.Hidden}, {"d_kv", c.HeadDim}, {"d_ff", c.Intermediate},
			{"num_layers", c.Layers}, {"num_decoder_layers", c.DecoderLayers}, {"num_heads", c.Heads},
			{"relative_attention_num_buckets", c.RelAttnBuckets}, {"relative_attention_max_distance", c.RelAttnMaxDistance}}
	case "bart":
		f := []sizeField{{"vocab_size", c.VocabSize}, {"max_position_embeddings", c.MaxPositions}, {"d_model", c.Hidden},
			{"encoder_layers", c.Layers}, {"decoder_layers", c.DecoderLayers}, {"encoder_attention_heads", c.Heads},
			{"encoder_ffn_dim", c.Intermediate}}
		if c.TaskType == TaskSeqCls {
			f = append(f, sizeField{"num_labels", c.NumLabels})
		}
		return f
	case "bloom":
		return []sizeField{{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"n_layer", c.Layers}, {"n_head", c.Heads}}
	case "gpt_neo":
		return []sizeField{{"vocab_size", c.VocabSize}, {"max_position_embeddings", c.MaxPositions},
			{"hidden_size", c.Hidden}, {"num_layers", c.Layers}, {"num_heads", c.Heads}, {"intermediate_size", c.Intermediate}}
	case "gptj":
		return []sizeField{{"vocab_size", c.VocabSize}, {"n_positions", c.MaxPositions}, {"n_embd", c.Hidden},
			{"n_layer", c.Layers}, {"n_head", c.Heads}, {"n_inner", c.Intermediate}, {"rotary_dim", c.RotaryDim}}
	case "opt":
		return []sizeField{{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"num_hidden_layers", c.Layers},
			{"ffn_dim", c.Intermediate}, {"max_position_embeddings", c.MaxPositions}, {"num_attention_heads", c.Heads},
			{"word_embed_proj_dim", c.WordEmbedDim}}
	case "bert", "roberta":
		f := []sizeField{{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"num_hidden_layers", c.Layers},
			{"num_attention_heads", c.Heads}, {"intermediate_size", c.Intermediate},
			{"max_position_embeddings", c.MaxPositions}, {"type_vocab_size", c.TypeVocabSize}}
		if c.TaskType == TaskSeqCls {
			f = append(f, sizeField{"num_labels", c.NumLabels})
		}
		return f
	}
	f := []sizeField{{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate},
		{"num_hidden_layers", c.Layers}, {"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads},
		{"head_dim", c.HeadDim}, {"max_position_embeddings", c.MaxPositions}}
	if c.Rope.Type == "llama3" {
		f = append(f, sizeField{"rope original_max_position_embeddings", c.Rope.OriginalMaxPositions})
	}
	return f
}

// checkSizes refuses a size that is not positive or exceeds MaxDimension,
// a non-finite float, and a model whose parameter count exceeds MaxParams,
// in a fixed order so that the same file always gives the same error.
func (c *Config) checkSizes() error {
	fields := c.sizeFields()
	if c.TaskType == TaskSeqCls && !slices.ContainsFunc(fields, func(f sizeField) bool { return f.key == "num_labels" }) {
		fields = append(fields, sizeField{"num_labels", c.NumLabels})
	}
	for _, f := range fields {
		if f.v <= 0 || f.v > MaxDimension {
			return fmt.Errorf("%s must be in [1, %d], got %d", f.key, MaxDimension, f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"norm epsilon", c.NormEps}, {"rope theta", c.Rope.Theta}, {"rope factor", c.Rope.Factor},
		{"rope low_freq_factor", c.Rope.LowFreqFactor}, {"rope high_freq_factor", c.Rope.HighFreqFactor}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s must be a finite number ≥ 0, got %g", f.key, f.v)
		}
	}
	if p := c.approxParams(); p > MaxParams {
		return fmt.Errorf("the sizes describe about %.3g parameters, over the limit of %.3g (%d)", p, float64(MaxParams), int64(MaxParams))
	}
	return nil
}

// approxParams counts the parameters of the matrices and embeddings c
// describes (biases and norms left out), in float64 so that no product of
// sizes can overflow.
func (c *Config) approxParams() float64 {
	other, proj := c.paramSplit()
	return other + proj
}

// MemoryEstimate is a lower bound of the bytes a run of a config needs on
// its device, in float64 so that absurd sizes cannot overflow.
type MemoryEstimate struct {
	Params      float64 // parameters (ApproxParams)
	Weights     float64 // bytes of float32 weights
	Activations float64 // bytes of the activations a step keeps
}

// Total returns Weights + Activations.
func (e MemoryEstimate) Total() float64 { return e.Weights + e.Activations }

// EstimateMemory returns a lower bound of the memory a forward pass
// (training false) or an (IA)³ training step (training true) of batch ×
// seq tokens needs with float32 weights: the weights, the logits, and the
// activations of one layer (forward) or of every layer, kept for the
// backward pass (training). Real runs need more (workspace, the allocator's
// rounding), so a run over the estimate cannot fit; one under it may still
// not.
func (c *Config) EstimateMemory(batch, seq int, training bool) MemoryEstimate {
	p := c.PlanMemory(PlanOptions{Batch: batch, Seq: seq, Training: training})
	return MemoryEstimate{Params: p.Params(), Weights: p.Weights, Activations: p.Activations}
}
