package train

import (
	"errors"
	"fmt"
)

// ErrInterrupted marks a run stopped by its context; the error is an
// *InterruptedError naming the checkpoint saved on the way out.
var ErrInterrupted = errors.New("training interrupted")

// ErrNonFiniteLoss marks a run stopped because a step's loss was NaN or
// infinite.
var ErrNonFiniteLoss = errors.New("loss is not finite")

// InterruptedError reports where an interrupted run stopped. Resume (or
// Options.ResumeFrom) with Checkpoint continues the same trajectory.
type InterruptedError struct {
	Step       int    // optimiser steps completed
	Checkpoint string // directory saved at Step
	Cause      error  // the context's error
}

// Error describes the interruption.
func (e *InterruptedError) Error() string {
	return fmt.Sprintf("training interrupted after step %d (%v); checkpoint saved to %s", e.Step, e.Cause, e.Checkpoint)
}

// Unwrap lets errors.Is match ErrInterrupted and the context's error.
func (e *InterruptedError) Unwrap() []error { return []error{ErrInterrupted, e.Cause} }
