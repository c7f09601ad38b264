package model

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/ia3/ia3/model/nn"
)

// SampleOptions is the per-sequence sampling state Generate uses: the same
// options and seed give the same tokens.
type SampleOptions struct {
	// Temperature 0 decodes greedily; a positive one samples from
	// softmax(logits / T) restricted by TopK and TopP.
	Temperature float64
	// TopK keeps the K most likely tokens when sampling; 0 keeps all.
	TopK int
	// TopP keeps the smallest set of most likely tokens reaching P; 0 or 1
	// keeps all.
	TopP float64
	// Seed seeds the PCG generator.
	Seed uint64
}

// Sampler chooses tokens from logits exactly as Generate does for one
// prompt, so a server decoding many sequences in one batch gives each the
// tokens Generate would give it alone. It is not safe for concurrent use.
type Sampler struct {
	o   SampleOptions
	rng *rand.Rand
}

// NewSampler validates o and returns a sampler seeded with o.Seed.
func NewSampler(o SampleOptions) (*Sampler, error) {
	if !finite(o.Temperature) || !finite(o.TopP) {
		return nil, fmt.Errorf("model.NewSampler: temperature %g, top-p %g: want finite numbers", o.Temperature, o.TopP)
	}
	if o.Temperature < 0 || o.TopK < 0 || o.TopP < 0 || o.TopP > 1 {
		return nil, fmt.Errorf("model.NewSampler: temperature %g, top-k %d, top-p %g: want temperature ≥ 0, top-k ≥ 0, top-p in [0, 1]",
			o.Temperature, o.TopK, o.TopP)
	}
	return newSampler(o), nil
}

// newSampler seeds a sampler without validation.
func newSampler(o SampleOptions) *Sampler {
	return &Sampler{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Next picks the next token from one row's logits: the argmax when
// decoding greedily, otherwise a sample after temperature, top-k and top-p
// filtering, in the order transformers applies them. A NaN logit is an
// error.
func (s *Sampler) Next(logits []float32) (int32, error) {
	if s.o.Temperature == 0 {
		return argmax(logits)
	}
	return sample(logits, s.o.Temperature, s.o.TopK, s.o.TopP, s.rng.Float64())
}

// PadID is the token fed for padding: pad_token_id, else the first of eos,
// else 0 — the first of these inside the vocabulary (the value is masked,
// but must be a valid id).
func (m *Model) PadID(eos []int32) int32 {
	cands := append([]int32{int32(m.cfg.PadTokenID)}, eos...)
	for _, id := range cands {
		if id >= 0 && int(id) < m.cfg.VocabSize {
			return id
		}
	}
	return 0
}

// PrefillInputs left-pads prompts with pad into one batch, with the
// attention mask and the position ids transformers' generate gives a
// padded batch (none when no row is padded), as Generate's first step.
func PrefillInputs(prompts [][]int32, pad int32) *Inputs {
	B := len(prompts)
	T := 0
	for _, p := range prompts {
		T = max(T, len(p))
	}
	in := &Inputs{Batch: B, Seq: T, InputIDs: make([]int32, B*T)}
	padded := false
	mask := make([]int32, B*T)
	for r, p := range prompts {
		off := T - len(p)
		padded = padded || off > 0
		for t := range T {
			if t < off {
				in.InputIDs[r*T+t] = pad
				continue
			}
			in.InputIDs[r*T+t] = p[t-off]
			mask[r*T+t] = 1
		}
	}
	if padded {
		in.AttentionMask = mask
		in.PositionIDs = PositionIDsFromMask(mask, B, T)
	}
	return in
}

// StepLogits runs one cached forward step of a causal LM and returns the
// logits of each row's last position, [Batch·V]. adapters, when non-nil,
// names each row's adapter ("" for the base model), a mixed-adapter batch
// that adapter layers (package ia3) read from the graph; nil runs the
// active adapters. A decoding batch whose rows joined at different times
// passes cache.NextPositions() as position ids.
func (m *Model) StepLogits(ctx context.Context, in *Inputs, cache *KVCache, adapters []string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("model.StepLogits: %w", err)
	}
	if m.b == nil {
		return nil, errors.New("model.StepLogits: structure-only model (built without a backend) cannot run")
	}
	if m.cfg.TaskType != TaskCausalLM {
		return nil, fmt.Errorf("model.StepLogits: %s (%s) is not a causal LM", m.cfg.Architecture, m.cfg.TaskType)
	}
	if in == nil || cache == nil || in.Batch != cache.Rows() {
		return nil, errors.New("model.StepLogits: inputs and cache must have the same rows")
	}
	if adapters != nil && len(adapters) != in.Batch {
		return nil, fmt.Errorf("model.StepLogits: %d adapter names for %d rows", len(adapters), in.Batch)
	}
	v, err := m.lastLogits(in, cache, adapters)
	if err != nil {
		return nil, fmt.Errorf("model.StepLogits: %w", err)
	}
	return v, nil
}

// lastLogits runs one cached step and downloads the logits of the last
// position only, [B·V].
func (m *Model) lastLogits(in *Inputs, cache *KVCache, adapters []string) ([]float32, error) {
	g := nn.NewGraph(m.b, false)
	g.Adapters = adapters
	defer g.Release()
	last := *in
	last.LastOnly = true
	logits := m.ForwardCached(g, &last, cache)
	if logits != nil {
		sh := logits.Shape()
		if t := sh[1]; t > 1 {
			logits = g.Narrow(logits, 1, t-1, 1)
		}
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	v, err := m.b.ToFloat32(logits.T)
	if err != nil {
		return nil, fmt.Errorf("download logits %v: %w", logits.Shape(), err)
	}
	return v, nil
}
