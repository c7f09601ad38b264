package model

import (
	"fmt"
	"strings"
)

// Bytes a stored weight takes in the quantised formats of the block
// projection weights, for PlanOptions.ProjBytesPerWeight: Q8_0 keeps 32
// int8 codes and one F16 scale per block of 32; NF4 (bitsandbytes, double
// quantisation) keeps 4-bit codes, one 8-bit absmax code per block of 64
// and one F32 scale per 256 of those blocks.
const (
	BytesPerWeightQ8_0 = 34.0 / 32
	BytesPerWeightNF4  = 0.5 + 1.0/64 + 4.0/(64*256)
)

// PlanOptions describes a run for PlanMemory.
type PlanOptions struct {
	// Batch and Seq are the rows and tokens of the largest step: the
	// training batch, the forward batch, or a generation's prompts (the
	// prefill).
	Batch, Seq int
	// Training keeps every layer's activations for the backward pass.
	Training bool
	// NewTokens, when positive, makes the run a generation: the KV cache
	// holds Seq + NewTokens positions of every layer and only the last
	// position's logits are computed.
	NewTokens int
	// WeightBytes is the bytes of one stored weight of the embeddings,
	// heads and every weight that is not quantised: 4 for F32 (0 means 4),
	// 2 for F16 and BF16.
	WeightBytes float64
	// ProjBytesPerWeight is the bytes of one weight of the blocks'
	// attention and feed-forward projections, the weights a quantised base
	// stores quantised (BytesPerWeightQ8_0, BytesPerWeightNF4); 0 means
	// WeightBytes.
	ProjBytesPerWeight float64
	// Trainable is the number of trained parameters (the (IA)³ vectors and
	// modules_to_save copies); each holds its value, its gradient and
	// AdamW's two moments in F32. Counted only with Training.
	Trainable float64
}

// MemoryPlan is the bytes a run of a config needs on its device, by kind,
// in float64 so that absurd sizes cannot overflow. It is a lower bound:
// real runs also need workspace and the allocator's rounding.
type MemoryPlan struct {
	Options PlanOptions
	// ProjParams counts the blocks' projection weights (quantisable);
	// OtherParams the embeddings, heads and other matrices.
	ProjParams, OtherParams float64
	Weights                 float64 // bytes of the stored weights
	Activations             float64 // bytes of the activations a step keeps
	KVCache                 float64 // bytes of a generation's key/value cache
	Optimizer               float64 // bytes of the trained values, gradients and AdamW moments
}

// Total returns the sum of the plan's bytes.
func (p MemoryPlan) Total() float64 { return p.Weights + p.Activations + p.KVCache + p.Optimizer }

// Params returns the parameter count of the weights.
func (p MemoryPlan) Params() float64 { return p.ProjParams + p.OtherParams }

// PlanMemory returns the memory plan of a run of c (see PlanOptions).
// Activations follow EstimateMemory: one layer's working set and the
// logits for a forward pass (only the last position's for a generation),
// every layer's for a training step.
func (c *Config) PlanMemory(o PlanOptions) MemoryPlan {
	if o.WeightBytes <= 0 {
		o.WeightBytes = 4
	}
	if o.ProjBytesPerWeight <= 0 {
		o.ProjBytesPerWeight = o.WeightBytes
	}
	other, proj := c.paramSplit()
	p := MemoryPlan{Options: o, ProjParams: proj, OtherParams: other,
		Weights: other*o.WeightBytes + proj*o.ProjBytesPerWeight}
	batch, seq := float64(o.Batch), float64(o.Seq)
	tokens := batch * seq
	h, inter := float64(c.Hidden), float64(c.Intermediate)
	scores := tokens * float64(c.Heads) * seq
	logits := batch * float64(max(c.NumLabels, 1))
	if c.TaskType == TaskCausalLM || c.TaskType == TaskSeq2SeqLM {
		logits = tokens * float64(c.VocabSize)
		if o.NewTokens > 0 {
			logits = batch * float64(c.VocabSize)
		}
	}
	layers := float64(c.Layers + c.DecoderLayers)
	acts := tokens*(4*h+inter) + scores + logits
	if o.Training {
		acts = layers*(tokens*(6*h+2*inter)+scores) + 2*logits
		p.Optimizer = 4 * 4 * o.Trainable
	}
	p.Activations = 4 * acts
	if o.NewTokens > 0 {
		positions := seq + float64(o.NewTokens)
		p.KVCache = 4 * 2 * layers * batch * positions * float64(c.KVHeads*c.HeadDim)
	}
	return p
}

// ApproxIA3Params counts the (IA)³ vectors of PEFT's default targets for
// c's family: the keys' and values' outputs and the feed-forward down
// projection's input in every layer (an upper bound for other targets of
// the same layers), for PlanOptions.Trainable.
func (c *Config) ApproxIA3Params() float64 {
	if c.Llama4 != nil {
		return c.Llama4.ia3Params(c)
	}
	kv, ff := float64(c.KVHeads*c.HeadDim), float64(c.Intermediate)
	if c.NumExperts > 0 {
		ff *= float64(c.NumExperts) // Mixtral: every expert's w2
	}
	return float64(c.Layers+c.DecoderLayers) * (2*kv + ff)
}

// paramSplit counts the parameters of the matrices and embeddings c
// describes (biases and norms left out): other holds the embeddings and
// heads, proj the blocks' attention and feed-forward projections.
func (c *Config) paramSplit() (other, proj float64) {
	h, inter, v := float64(c.Hidden), float64(c.Intermediate), float64(c.VocabSize)
	attn := h*float64(c.Heads*c.HeadDim)*2 + h*float64(c.KVHeads*c.HeadDim)*2
	mlp := 2 * h * inter
	if isLlamaFamily(c.ModelType) || c.GatedFF {
		mlp = 3 * h * inter
	}
	if c.NumExperts > 0 {
		mlp = float64(c.NumExperts)*3*h*inter + h*float64(c.NumExperts)
	}
	other, proj = v*h, float64(c.Layers)*(attn+mlp)
	if c.Llama4 != nil {
		proj = float64(c.Layers)*attn + c.Llama4.ffParams(c)
	}
	switch c.ModelType {
	case "gpt2":
		other += float64(c.MaxPositions) * h
	case "bert", "roberta":
		other += float64(c.MaxPositions+c.TypeVocabSize)*h + h*h + h*float64(c.NumLabels)
	case "t5", "mt5":
		proj += float64(c.DecoderLayers) * (2*attn + mlp)
	case "bart":
		proj += float64(c.DecoderLayers) * (2*attn + mlp)
		other += 2 * float64(c.MaxPositions+2) * h
	}
	if !c.TieWordEmbeddings && c.TaskType != TaskSeqCls && c.TaskType != TaskFeatureExtraction {
		other += v * h
	}
	return other, proj
}

// Breakdown renders the plan's parts, one "name: bytes (detail)" per line,
// with fmtBytes formatting byte counts.
func (p MemoryPlan) Breakdown(fmtBytes func(float64) string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "weights: %s (%.3g projection weights at %.4g bytes, %.3g others at %.4g bytes)\n",
		fmtBytes(p.Weights), p.ProjParams, p.Options.ProjBytesPerWeight, p.OtherParams, p.Options.WeightBytes)
	fmt.Fprintf(&sb, "activations: %s\n", fmtBytes(p.Activations))
	if p.Options.NewTokens > 0 {
		fmt.Fprintf(&sb, "kv cache: %s (%d positions)\n", fmtBytes(p.KVCache), p.Options.Seq+p.Options.NewTokens)
	}
	if p.Options.Training {
		fmt.Fprintf(&sb, "optimiser: %s (%.3g trained parameters: value, gradient, AdamW m and v)\n", fmtBytes(p.Optimizer), p.Options.Trainable)
	}
	fmt.Fprintf(&sb, "total: %s\n", fmtBytes(p.Total()))
	return sb.String()
}
