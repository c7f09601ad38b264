package train

import (
	"fmt"
	"math"
	"strings"
)

// Learning-rate schedules, named as transformers' SchedulerType.
const (
	// ScheduleConstant keeps the learning rate fixed.
	ScheduleConstant = "constant"
	// ScheduleConstantWarmup rises linearly over the warmup steps, then
	// stays fixed.
	ScheduleConstantWarmup = "constant_with_warmup"
	// ScheduleLinear rises linearly over the warmup steps, then falls
	// linearly to 0 at the last step.
	ScheduleLinear = "linear"
	// ScheduleCosine rises linearly over the warmup steps, then follows half
	// a cosine down to 0 at the last step.
	ScheduleCosine = "cosine"
)

// Schedules lists the schedule names Schedule accepts.
func Schedules() []string {
	return []string{ScheduleConstant, ScheduleConstantWarmup, ScheduleLinear, ScheduleCosine}
}

// Schedule gives the learning rate of each optimiser step. It reproduces
// transformers' get_scheduler: a LambdaLR whose factor is evaluated at the
// number of steps already taken, so the first step (step 0) of a schedule
// with warmup runs with learning rate 0, as it does there.
type Schedule struct {
	Name        string
	BaseLR      float64
	WarmupSteps int
	TotalSteps  int
}

// NewSchedule validates a schedule's parameters.
func NewSchedule(name string, baseLR float64, warmup, total int) (Schedule, error) {
	s := Schedule{Name: name, BaseLR: baseLR, WarmupSteps: warmup, TotalSteps: total}
	if name == "" {
		s.Name = ScheduleConstant
	}
	switch s.Name {
	case ScheduleConstant, ScheduleConstantWarmup, ScheduleLinear, ScheduleCosine:
	default:
		return s, fmt.Errorf("learning-rate schedule %q is not supported (supported: %s)", name, strings.Join(Schedules(), ", "))
	}
	if !(baseLR > 0) || math.IsInf(baseLR, 0) {
		return s, fmt.Errorf("learning rate %g must be positive and finite", baseLR)
	}
	if warmup < 0 {
		return s, fmt.Errorf("warmup steps %d must not be negative", warmup)
	}
	if total <= 0 {
		return s, fmt.Errorf("total steps %d must be positive", total)
	}
	return s, nil
}

// LR returns the learning rate for the optimiser step that follows step
// completed steps (0 for the first).
func (s Schedule) LR(step int) float64 { return s.BaseLR * s.factor(step) }

// factor is the LambdaLR multiplier transformers' schedule functions
// return.
func (s Schedule) factor(step int) float64 {
	w := s.WarmupSteps
	if s.Name != ScheduleConstant && step < w {
		return float64(step) / float64(max(1, w))
	}
	switch s.Name {
	case ScheduleLinear:
		return math.Max(0, float64(s.TotalSteps-step)/float64(max(1, s.TotalSteps-w)))
	case ScheduleCosine:
		progress := float64(step-w) / float64(max(1, s.TotalSteps-w))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*2*0.5*progress)))
	}
	return 1
}
