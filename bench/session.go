package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// Session is a random-weight model with the default IA3 adapter and AdamW
// state on one backend, ready to run timed steps on one random batch.
type Session struct {
	b         backend.Backend
	m         *model.Model
	peft      *ia3.Model
	in        *model.Inputs
	params    []ia3.NamedParam
	moments   [][2]backend.Tensor // AdamW m and v per trainable parameter
	step      int
	lr        float32
	memPeak   uint64
	memSample func() uint64
}

// NewSession builds cfg's model on b with random float32 weights (from
// seed), the architecture's default IA3 adapter, and a batch×seq batch of
// random tokens that is also its own labels.
func NewSession(b backend.Backend, cfg *model.Config, batch, seq int, seed uint64) (*Session, error) {
	return NewSessionWith(b, cfg, batch, seq, seed, model.RandomOptions{})
}

// NewSessionWith is NewSession with the weights stored as w says
// (bfloat16, or the block weights quantized).
func NewSessionWith(b backend.Backend, cfg *model.Config, batch, seq int, seed uint64, w model.RandomOptions) (*Session, error) {
	if batch <= 0 || seq <= 0 {
		return nil, fmt.Errorf("bench: batch %d and seq %d must be positive", batch, seq)
	}
	if cfg.MaxPositions > 0 && seq > cfg.MaxPositions {
		return nil, fmt.Errorf("bench: seq %d exceeds the shape's %d positions", seq, cfg.MaxPositions)
	}
	if cfg.TaskType != model.TaskCausalLM {
		return nil, fmt.Errorf("bench: %s is %s; benchmarks run causal language models", cfg.Architecture, cfg.TaskType)
	}
	m, err := model.NewRandomWith(cfg, b, seed, w)
	if err != nil {
		return nil, err
	}
	ac := ia3.NewConfig()
	ac.TaskType = cfg.TaskType
	pm, err := ia3.New(m, ac, ia3.DefaultAdapter)
	if err != nil {
		m.Free()
		return nil, fmt.Errorf("bench: attach the default IA3 adapter: %w", err)
	}
	s := &Session{b: b, m: m, peft: pm, params: pm.TrainableParams(), lr: 1e-3, memSample: memoryProbe(b)}
	for _, p := range s.params {
		var mv [2]backend.Tensor
		for i := range mv {
			if mv[i], err = b.Zeros(p.Param.T.Shape()...); err != nil {
				s.Close()
				return nil, fmt.Errorf("bench: AdamW state of %s: %w", p.Name, err)
			}
		}
		s.moments = append(s.moments, mv)
	}
	if p, ok := unwrap(b).(PeakReporter); ok {
		p.ResetPeak() // the run's peak, not the construction's
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	ids := make([]int32, batch*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
	}
	s.in = &model.Inputs{Batch: batch, Seq: seq, InputIDs: ids, Labels: ids}
	return s, nil
}

// Close frees the model and the optimiser state.
func (s *Session) Close() {
	for _, mv := range s.moments {
		s.b.Free(mv[0])
		s.b.Free(mv[1])
	}
	s.moments = nil
	s.m.Free()
}

// Params returns the total and trainable parameter counts, as PEFT counts
// them.
func (s *Session) Params() (all, trainable int64) {
	trainable, all = s.peft.ParamCounts()
	return all, trainable
}

// Tokens returns the tokens of one batch.
func (s *Session) Tokens() int { return s.in.Batch * s.in.Seq }

// TrainStep runs forward, loss, backward and one AdamW step of the
// adapter, then waits for the device (Sync), and returns the loss. An
// infinite or NaN loss is an error.
func (s *Session) TrainStep() (float32, error) {
	g := nn.NewGraph(s.b, true)
	defer g.Release()
	loss := s.m.Loss(g, s.in)
	if err := g.Err(); err != nil {
		return 0, fmt.Errorf("bench: train step loss: %w", err)
	}
	if err := g.Backward(loss); err != nil {
		return 0, fmt.Errorf("bench: train step backward: %w", err)
	}
	s.step++
	for i, p := range s.params {
		grad := g.ParamGrad(p.Param)
		if grad == nil {
			return 0, fmt.Errorf("bench: %s got no gradient", p.Name)
		}
		o := backend.AdamWOptions{LR: s.lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: s.step}
		if err := s.b.AdamW(p.Param.T, grad, s.moments[i][0], s.moments[i][1], o); err != nil {
			return 0, fmt.Errorf("bench: AdamW step of %s: %w", p.Name, err)
		}
	}
	s.sampleMemory()
	v, err := s.b.ToFloat32(loss.T)
	if err != nil {
		return 0, fmt.Errorf("bench: read loss: %w", err)
	}
	if err := s.b.Sync(); err != nil {
		return 0, fmt.Errorf("bench: sync: %w", err)
	}
	if math.IsNaN(float64(v[0])) || math.IsInf(float64(v[0]), 0) {
		return 0, errors.New("bench: the loss is not finite")
	}
	return v[0], nil
}

// Forward runs one inference forward pass of the batch and waits for the
// device.
func (s *Session) Forward() error {
	g := nn.NewGraph(s.b, false)
	defer g.Release()
	s.m.Forward(g, s.in)
	if err := g.Err(); err != nil {
		return fmt.Errorf("bench: forward: %w", err)
	}
	s.sampleMemory()
	if err := s.b.Sync(); err != nil {
		return fmt.Errorf("bench: sync: %w", err)
	}
	return nil
}

// Generate decodes n new tokens greedily after each row of the batch (the
// prompt), through the KV cache, and waits for the device.
func (s *Session) Generate(ctx context.Context, n int) error {
	prompts := make([][]int32, s.in.Batch)
	for r := range prompts {
		prompts[r] = s.in.InputIDs[r*s.in.Seq : (r+1)*s.in.Seq]
	}
	out, err := s.m.Generate(ctx, prompts, model.GenerateOptions{MaxNewTokens: n, EOS: []int32{},
		OnToken: func(int, int32) error { s.sampleMemory(); return nil }})
	if err != nil {
		return fmt.Errorf("bench: generate: %w", err)
	}
	if len(out[0]) != n {
		return fmt.Errorf("bench: generate: %d tokens, want %d", len(out[0]), n)
	}
	if err := s.b.Sync(); err != nil {
		return fmt.Errorf("bench: sync: %w", err)
	}
	return nil
}

// sampleMemory records the memory in use while a step's tensors are all
// alive (before the graph is released).
func (s *Session) sampleMemory() {
	if s.memSample != nil {
		s.memPeak = max(s.memPeak, s.memSample())
	}
}

// PeakMemory returns the largest memory in use since the session was
// built: the backend's own peak where it keeps one (PeakReporter), else the
// largest sampled at the end of each step before its tensors were freed;
// and where the figure comes from. 0 and "" when the backend exposes none.
func (s *Session) PeakMemory() (uint64, string) {
	if s.memSample == nil {
		return 0, ""
	}
	peak := s.memPeak
	if p, ok := unwrap(s.b).(PeakReporter); ok {
		peak = max(peak, p.PeakBytes())
	}
	return peak, memorySource(s.b)
}
