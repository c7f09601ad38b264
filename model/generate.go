package model

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// GenerateOptions controls Generate.
type GenerateOptions struct {
	// MaxNewTokens bounds the tokens generated per prompt; it must be
	// positive.
	MaxNewTokens int
	// Temperature 0 decodes greedily (argmax, as transformers' do_sample
	// False). A positive temperature samples from softmax(logits / T),
	// restricted by TopK and TopP.
	Temperature float64
	// TopK keeps only the K most likely tokens when sampling; 0 keeps all.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches P when sampling (nucleus sampling); 0 or 1 keeps all.
	TopP float64
	// Seed seeds the sampler (a PCG generator): the same seed, prompts
	// and model give the same tokens.
	Seed uint64
	// EOS lists the token ids that end a sequence; nil takes the config's
	// eos_token_id (a number or a list). An empty non-nil list disables
	// stopping at EOS.
	EOS []int32
	// OnToken, when set, receives every new token as soon as it is chosen,
	// row by row within a step. An error it returns stops generation and is
	// returned.
	OnToken func(row int, token int32) error
}

// Generate continues each prompt (token ids) with up to o.MaxNewTokens new
// tokens, feeding only the new token to the model at each step through a
// KV cache and downloading only the last position's logits. Prompts of a
// batch are left-padded with position ids counted from the mask, as
// transformers' generate does, so each row decodes as it would alone. A
// row stops after emitting an EOS token (which is included in its output);
// generation stops when every row has stopped or after MaxNewTokens.
//
// Causal LMs continue the prompt; T5 reads the prompt with its encoder and
// generates the decoder sequence from decoder_start_token_id (the start
// token is not returned).
//
// On cancellation or an OnToken error Generate returns the tokens produced
// so far together with the error.
func (m *Model) Generate(ctx context.Context, prompts [][]int32, o GenerateOptions) ([][]int32, error) {
	if err := m.checkGenerate(prompts, o); err != nil {
		return nil, fmt.Errorf("model.Generate: %w", err)
	}
	eos := o.EOS
	if eos == nil {
		var err error
		if eos, err = EOSTokenIDs(m.cfg); err != nil {
			return nil, fmt.Errorf("model.Generate: %w", err)
		}
	}
	cache, err := m.NewCache(len(prompts))
	if err != nil {
		return nil, fmt.Errorf("model.Generate: %w", err)
	}
	defer cache.Free()
	s := &generation{m: m, cache: cache, o: o, eos: eos,
		sampler: newSampler(SampleOptions{Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed})}
	out, err := s.run(ctx, prompts)
	if err != nil {
		return out, fmt.Errorf("model.Generate: %w", err)
	}
	return out, nil
}

// checkGenerate validates the prompts and options against the model.
func (m *Model) checkGenerate(prompts [][]int32, o GenerateOptions) error {
	if m.b == nil {
		return errors.New("structure-only model (built without a backend) cannot generate")
	}
	if m.cfg.TaskType != TaskCausalLM && m.cfg.TaskType != TaskSeq2SeqLM {
		return fmt.Errorf("%s (%s) is not a generative model", m.cfg.Architecture, m.cfg.TaskType)
	}
	if len(prompts) == 0 {
		return errors.New("no prompts")
	}
	if o.MaxNewTokens <= 0 {
		return fmt.Errorf("max new tokens %d must be positive", o.MaxNewTokens)
	}
	if !finite(o.Temperature) || !finite(o.TopP) {
		return fmt.Errorf("sampling options temperature %g, top-p %g: want finite numbers", o.Temperature, o.TopP)
	}
	if o.Temperature < 0 || o.TopK < 0 || o.TopP < 0 || o.TopP > 1 {
		return fmt.Errorf("sampling options temperature %g, top-k %d, top-p %g: want temperature ≥ 0, top-k ≥ 0, top-p in [0, 1]",
			o.Temperature, o.TopK, o.TopP)
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("prompt %d is empty", i)
		}
		for j, id := range p {
			if id < 0 || int(id) >= m.cfg.VocabSize {
				return fmt.Errorf("prompt %d token %d = %d is outside the vocabulary [0, %d)", i, j, id, m.cfg.VocabSize)
			}
		}
		longest = max(longest, len(p))
	}
	// GPT-2's learned positions end at n_positions; transformers fails
	// there too.
	if m.cfg.ModelType == "gpt2" && m.cfg.MaxPositions > 0 && longest+o.MaxNewTokens > m.cfg.MaxPositions {
		return fmt.Errorf("prompt of %d tokens + %d new tokens exceeds n_positions %d", longest, o.MaxNewTokens, m.cfg.MaxPositions)
	}
	return nil
}

// EOSTokenIDs returns the config's eos_token_id as a list: none when it is
// absent or null, one id, or every id of a list.
func EOSTokenIDs(c *Config) ([]int32, error) {
	v, ok := c.Raw["eos_token_id"]
	if !ok && c.Llama4 != nil && c.Llama4.Composite {
		v, ok = llama4TextEOS(c) // the composite keeps it in text_config
	}
	if !ok || v == nil {
		return []int32{}, nil
	}
	one := func(x any) (int32, error) {
		f, ok := x.(float64)
		if !ok || f != float64(int32(f)) || f < 0 {
			return 0, fmt.Errorf("config eos_token_id: %v is not a token id", x)
		}
		return int32(f), nil
	}
	if l, ok := v.([]any); ok {
		out := make([]int32, 0, len(l))
		for _, x := range l {
			id, err := one(x)
			if err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		return out, nil
	}
	id, err := one(v)
	if err != nil {
		return nil, err
	}
	return []int32{id}, nil
}

// generation is the state of one Generate call.
type generation struct {
	m     *Model
	cache *KVCache
	o     GenerateOptions
	eos   []int32
	// sampler is shared by the rows, which draw in row order each step.
	sampler *Sampler
	// enc holds the T5 encoder inputs, passed again on every step.
	enc *Inputs
}

// run drives the decoding loop.
func (s *generation) run(ctx context.Context, prompts [][]int32) ([][]int32, error) {
	B := len(prompts)
	out := make([][]int32, B)
	done := make([]bool, B)
	in := s.first(prompts)
	for step := 0; step < s.o.MaxNewTokens; step++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err := s.lastLogits(in)
		if err != nil {
			return out, fmt.Errorf("step %d: %w", step, err)
		}
		V := len(logits) / B
		next := make([]int32, B)
		for r := range B {
			if done[r] {
				next[r] = s.padID()
				continue
			}
			tok, err := s.sampler.Next(logits[r*V : (r+1)*V])
			if err != nil {
				return out, fmt.Errorf("step %d row %d: %w", step, r, err)
			}
			next[r] = tok
			out[r] = append(out[r], tok)
			if s.isEOS(tok) {
				done[r] = true
			}
			if s.o.OnToken != nil {
				if err := s.o.OnToken(r, tok); err != nil {
					return out, err
				}
			}
		}
		if allTrue(done) {
			break
		}
		in = s.next(next)
	}
	return out, nil
}

// first builds the inputs of the first step: the left-padded prompts for a
// causal LM, or, for an encoder–decoder, the right-padded encoder inputs
// (as the T5 and BART tokenizers pad; BART's encoder positions count from
// the first slot, so a left-padded prompt would read other positions
// than the prompt alone) and the decoder start token.
func (s *generation) first(prompts [][]int32) *Inputs {
	in := PrefillInputs(prompts, s.padID())
	B, T := in.Batch, in.Seq
	if s.m.cfg.TaskType == TaskSeq2SeqLM {
		in = rightPadded(prompts, s.padID())
		s.enc = in
		start := make([]int32, B)
		for r := range start {
			start[r] = int32(s.m.cfg.DecoderStartTokenID)
		}
		return &Inputs{Batch: B, Seq: T, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask,
			DecoderInputIDs: start, DecoderSeq: 1}
	}
	return in
}

// next builds the inputs of a following step from the chosen tokens.
func (s *generation) next(tokens []int32) *Inputs {
	B := len(tokens)
	if s.enc != nil {
		return &Inputs{Batch: B, Seq: s.enc.Seq, InputIDs: s.enc.InputIDs, AttentionMask: s.enc.AttentionMask,
			DecoderInputIDs: tokens, DecoderSeq: 1}
	}
	in := &Inputs{Batch: B, Seq: 1, InputIDs: tokens}
	if s.padded() {
		in.PositionIDs = s.cache.NextPositions()
	}
	return in
}

// padded reports whether any cached token is padding, so positions must
// be counted from the mask.
func (s *generation) padded() bool {
	for _, row := range s.cache.mask {
		for _, v := range row {
			if v == 0 {
				return true
			}
		}
	}
	return false
}

// lastLogits runs one cached step and downloads the last position's
// logits, [B·V].
func (s *generation) lastLogits(in *Inputs) ([]float32, error) {
	return s.m.lastLogits(in, s.cache, nil)
}

// padID is the token fed for padding and for rows that have finished.
func (s *generation) padID() int32 { return s.m.PadID(s.eos) }

// isEOS reports whether tok ends a sequence.
func (s *generation) isEOS(tok int32) bool {
	for _, e := range s.eos {
		if tok == e {
			return true
		}
	}
	return false
}

// allTrue reports whether every entry of bs is true.
func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// rightPadded pads prompts with pad on the right into one batch, with the
// attention mask (none when no row is padded).
func rightPadded(prompts [][]int32, pad int32) *Inputs {
	T := 0
	for _, p := range prompts {
		T = max(T, len(p))
	}
	B := len(prompts)
	in := &Inputs{Batch: B, Seq: T, InputIDs: make([]int32, B*T)}
	mask := make([]int32, B*T)
	padded := false
	for r, p := range prompts {
		padded = padded || len(p) < T
		for t := range T {
			in.InputIDs[r*T+t] = pad
			if t < len(p) {
				in.InputIDs[r*T+t], mask[r*T+t] = p[t], 1
			}
		}
	}
	if padded {
		in.AttentionMask = mask
	}
	return in
}
