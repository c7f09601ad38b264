package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// loop trains from the current step to the last, evaluating and saving
// checkpoints on the way. It returns an *InterruptedError when ctx ends.
func (s *session) loop(ctx context.Context, bar *progress) error {
	for step := s.opt.Steps(); step < s.total; step++ {
		if err := ctx.Err(); err != nil {
			return s.interrupted(step, err)
		}
		start := time.Now()
		lr := s.sched.LR(step)
		stats, tokens, err := s.trainStep(step, lr)
		if err != nil {
			return err
		}
		s.hist.Losses = append(s.hist.Losses, stats.Loss)
		s.hist.LRs = append(s.hist.LRs, lr)
		s.hist.Tokens += int64(tokens)
		bar.update(step+1, stats.Loss, lr, tokens)
		if s.opts.OnStep != nil {
			s.opts.OnStep(StepInfo{Step: step + 1, TotalSteps: s.total, Loss: stats.Loss, LR: lr, GradNorm: stats.GradNorm, Tokens: tokens})
		}
		level := slog.LevelDebug
		if bar == nil && ((step+1)%max(1, s.total/10) == 0 || step+1 == s.total) {
			level = slog.LevelInfo // without a bar, report every tenth of the run
		}
		s.opts.Logger.Log(ctx, level, "train step", "step", step+1, "of", s.total, "loss", stats.Loss, "lr", lr,
			"tokens", tokens, "elapsed", time.Since(start))
		done := step+1 == s.total
		if s.eval != nil && (done || (s.opts.EvalEvery > 0 && (step+1)%s.opts.EvalEvery == 0)) {
			if err := s.evalAt(ctx, step+1); err != nil {
				return err
			}
		}
		if !done && s.opts.CheckpointEvery > 0 && (step+1)%s.opts.CheckpointEvery == 0 {
			if _, err := s.saveCheckpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// interrupted saves a checkpoint at a step boundary and describes it.
func (s *session) interrupted(step int, cause error) error {
	dir, err := s.saveCheckpoint()
	if err != nil {
		return errors.Join(fmt.Errorf("%w after step %d: %w", ErrInterrupted, step, cause), err)
	}
	return &InterruptedError{Step: step, Checkpoint: dir, Cause: cause}
}

// trainStep runs the micro-batches of step (0-based) and the update with
// learning rate lr, returning the step's statistics and real tokens.
func (s *session) trainStep(step int, lr float64) (stepStats, int, error) {
	tokens := 0
	micro := s.opts.GradAccum
	if r := s.remainingMicro(); r >= 0 {
		micro = min(micro, r)
	}
	for range micro {
		idx := s.next()
		if s.train.task == taskChoices || len(s.opts.Mixed) > 0 {
			microBatch := s.choicesMicroBatch
			if len(s.opts.Mixed) > 0 {
				microBatch = s.mixedMicroBatch
			}
			toks, err := microBatch(idx)
			if err != nil {
				s.st.reset()
				return stepStats{}, 0, fmt.Errorf("train step %d: %w", step+1, err)
			}
			tokens += toks
			continue
		}
		in, toks, _ := s.train.batch(idx)
		tokens += toks
		if err := s.st.accumulate(in); err != nil {
			s.st.reset()
			return stepStats{}, 0, fmt.Errorf("train step %d, batch starting at %s: %w", step+1, s.train.examples[idx[0]].source, err)
		}
	}
	stats, err := s.st.finish(lr)
	if errors.Is(err, errNonFinite) {
		last := s.lastCheckpoint
		if last == "" {
			last = "none saved"
		}
		return stats, 0, fmt.Errorf("train step %d: %w (%g); last good checkpoint: %s", step+1, ErrNonFiniteLoss, stats.Loss, last)
	}
	if err != nil {
		return stats, 0, fmt.Errorf("train step %d: %w", step+1, err)
	}
	return stats, tokens, nil
}

// evalAt evaluates the eval split after step and records it. An
// evaluation cut short by ctx is dropped; the loop then saves a
// checkpoint.
func (s *session) evalAt(ctx context.Context, step int) error {
	m, err := evaluate(ctx, s.b, s.base, s.eval, s.opts.BatchSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("after train step %d: %w", step, err)
	}
	s.hist.Evals = append(s.hist.Evals, EvalPoint{Step: step, Metrics: m})
	attrs := []any{"step", step, "loss", m.Loss, "examples", m.Examples}
	if m.HasAccuracy {
		attrs = append(attrs, "accuracy", m.Accuracy)
	}
	s.opts.Logger.Info("eval", attrs...)
	return nil
}
