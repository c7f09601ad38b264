package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
)

// PhaseProfile is where the time of one benchmark phase goes, operation by
// operation.
type PhaseProfile struct {
	// Phase is "train" (forward, backward and AdamW) or "forward".
	Phase string
	// Steps is the number of profiled steps; Ops holds their totals.
	Steps int
	// StepS is the mean wall seconds of a profiled step, which the Sync
	// after every operation makes longer than an unprofiled one. What it
	// holds beyond the operations' total is host time between them.
	StepS float64
	Ops   *OpProfile
}

// ProfileSteps builds the shape cfg on b behind Profile, as Run does, runs
// o.Warmup unprofiled steps (pipeline compilation and pool growth do not
// count), then profiles o.Steps steps: training steps, or forward passes
// when o.SkipTrain is set.
func ProfileSteps(ctx context.Context, b backend.Backend, cfg *model.Config, o Options) (*PhaseProfile, error) {
	if o.Steps <= 0 || o.Warmup < 0 {
		return nil, fmt.Errorf("bench: profile: steps %d must be positive and warmup %d not negative", o.Steps, o.Warmup)
	}
	pb, prof := Profile(b)
	s, err := NewSessionWith(pb, cfg, o.Batch, o.Seq, o.Seed, o.Weights)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r := &PhaseProfile{Phase: "train", Steps: o.Steps, Ops: prof}
	step := func() error { _, err := s.TrainStep(); return err }
	if o.SkipTrain {
		r.Phase, step = "forward", s.Forward
	}
	var wall time.Duration
	for i := range o.Warmup + o.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i == o.Warmup {
			prof.Reset()
		}
		start := time.Now()
		if err := step(); err != nil {
			return nil, fmt.Errorf("bench: profile %s step %d: %w", r.Phase, i, err)
		}
		if i >= o.Warmup {
			wall += time.Since(start)
		}
	}
	r.StepS = wall.Seconds() / float64(o.Steps)
	return r, nil
}
