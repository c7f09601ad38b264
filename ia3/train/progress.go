package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a progress bar of optimiser steps with the loss, the
// learning rate, tokens per second and the time left. A nil *progress
// draws nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	start time.Time
	first int // step the bar started at (resumed runs)
	toks  int64
}

// newProgress returns a bar writing to w, or nil when w is nil or a file
// that is not a terminal (logs and pipes get no control sequences).
func newProgress(w io.Writer, label string, startStep, total int) *progress {
	if w == nil {
		return nil
	}
	if f, ok := w.(*os.File); ok && !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	if startStep > 0 {
		_ = bar.Set(startStep)
	}
	return &progress{bar: bar, w: w, start: time.Now(), first: startStep}
}

// update moves the bar to step and shows the step's statistics.
func (p *progress) update(step int, loss, lr float64, tokens int) {
	if p == nil {
		return
	}
	p.toks += int64(tokens)
	rate := float64(p.toks) / max(time.Since(p.start).Seconds(), 1e-9)
	p.bar.Describe(fmt.Sprintf("loss %.4f  lr %.2e  %.0f tok/s", loss, lr, rate))
	_ = p.bar.Set(step)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	_ = p.bar.Exit()
	fmt.Fprintln(p.w)
}
