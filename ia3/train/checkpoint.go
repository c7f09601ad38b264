package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ia3/ia3/internal/atomicfile"
	"github.com/ia3/ia3/model/safetensors"
)

// Files of a checkpoint directory besides the adapter's own.
const (
	// OptimizerFile holds AdamW's moment buffers.
	OptimizerFile = "optimizer.safetensors"
	// StateFile holds the step, the data position and the run's history.
	StateFile = "trainer_state.json"
	// checkpointPrefix starts every checkpoint directory's name.
	checkpointPrefix = "checkpoint-"
)

// trainerState is StateFile's content.
type trainerState struct {
	Step       int `json:"global_step"`
	TotalSteps int `json:"max_steps"`
	// Data is the position of the next micro-batch; with Seed it is the
	// whole random state (each epoch's order is drawn from PCG(seed,
	// epoch+1)).
	Data          cursor  `json:"data"`
	Seed          uint64  `json:"seed"`
	BatchSize     int     `json:"train_batch_size"`
	GradAccum     int     `json:"gradient_accumulation_steps"`
	TrainExamples int     `json:"train_examples"`
	LR            float64 `json:"learning_rate"`
	Schedule      string  `json:"lr_scheduler_type"`
	Warmup        int     `json:"warmup_steps"`
	History       history `json:"history"`
}

// state captures the session for a checkpoint.
func (s *session) state() trainerState {
	return trainerState{
		Step: s.opt.Steps(), TotalSteps: s.total, Data: s.cur, Seed: s.opts.Seed,
		BatchSize: s.opts.BatchSize, GradAccum: s.opts.GradAccum, TrainExamples: len(s.train.examples),
		LR: s.sched.BaseLR, Schedule: s.sched.Name, Warmup: s.sched.WarmupSteps, History: s.hist,
	}
}

// saveCheckpoint writes OutDir/checkpoint-<step>: the adapter in PEFT's
// layout, the optimiser state and the trainer state. It is built in a
// temporary directory and renamed into place, so a checkpoint directory
// is always complete.
func (s *session) saveCheckpoint() (dir string, err error) {
	step := s.opt.Steps()
	dir = filepath.Join(s.opts.OutDir, checkpointPrefix+strconv.Itoa(step))
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if err := os.MkdirAll(s.opts.OutDir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(s.opts.OutDir, checkpointTmpPattern)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := s.pm.SavePretrained(tmp); err != nil {
		return fail(err)
	}
	tensors, err := s.opt.State()
	if err != nil {
		return fail(err)
	}
	if err := safetensors.Write(filepath.Join(tmp, OptimizerFile), tensors, nil); err != nil {
		return fail(err)
	}
	data, err := json.MarshalIndent(s.state(), "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, StateFile), append(data, '\n')); err != nil {
		return fail(err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		return fail(err)
	}
	s.lastCheckpoint = dir
	s.opts.Logger.Info("checkpoint saved", "dir", dir, "step", step)
	return dir, nil
}

// finalSaveFailed describes a run whose adapter could not be saved. The
// trained state is not lost if a checkpoint of the last step can still
// be written; else the error names the last checkpoint there is.
func (s *session) finalSaveFailed(saveErr error) error {
	err := fmt.Errorf("train: save adapter to %s: %w", s.opts.OutDir, saveErr)
	step := s.opt.Steps()
	if s.lastCheckpoint != "" && s.lastCheckpoint == filepath.Join(s.opts.OutDir, checkpointPrefix+strconv.Itoa(step)) {
		return fmt.Errorf("%w; the trained state is in checkpoint %s (resume from it)", err, s.lastCheckpoint)
	}
	dir, cerr := s.saveCheckpoint()
	if cerr == nil {
		return fmt.Errorf("%w; the trained state is saved in checkpoint %s (resume from it)", err, dir)
	}
	last := s.lastCheckpoint
	if last == "" {
		last = "none"
	}
	return fmt.Errorf("%w; a checkpoint of step %d failed too (%w); last checkpoint: %s", err, step, cerr, last)
}

// readState reads a checkpoint's trainer state.
func readState(dir string) (trainerState, error) {
	var st trainerState
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("resume: %w (is %s a checkpoint directory?)", err, dir)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("resume: %s: %w", path, err)
	}
	return st, nil
}

// restore continues the session from a checkpoint whose adapter is
// already loaded: it checks that the run is the same one, then restores
// the optimiser, the data position and the history.
func (s *session) restore(dir string, st trainerState) error {
	now := s.state()
	for _, c := range []struct {
		name      string
		have, was any
	}{
		{"seed", now.Seed, st.Seed},
		{"batch size", now.BatchSize, st.BatchSize},
		{"gradient accumulation", now.GradAccum, st.GradAccum},
		{"training examples", now.TrainExamples, st.TrainExamples},
		{"total steps", now.TotalSteps, st.TotalSteps},
		{"learning rate", now.LR, st.LR},
		{"schedule", now.Schedule, st.Schedule},
		{"warmup steps", now.Warmup, st.Warmup},
	} {
		if c.have != c.was {
			return fmt.Errorf("resume from %s: %s is %v now but was %v: the run would not continue the same trajectory", dir, c.name, c.have, c.was)
		}
	}
	if st.Step < 0 || st.Step > st.TotalSteps {
		return fmt.Errorf("resume from %s: step %d is outside [0, %d]", dir, st.Step, st.TotalSteps)
	}
	if nb := s.batchesPerEpoch(); st.Data.Batch < 0 || st.Data.Batch >= nb || st.Data.Epoch < 0 {
		return fmt.Errorf("resume from %s: data position epoch %d batch %d is outside the data (%d batches per epoch)", dir, st.Data.Epoch, st.Data.Batch, nb)
	}
	if err := s.opt.LoadState(filepath.Join(dir, OptimizerFile), st.Step); err != nil {
		return fmt.Errorf("resume from %s: %w", dir, err)
	}
	s.cur = st.Data
	s.perm = nil
	s.hist = st.History
	s.lastCheckpoint = dir
	return nil
}

// LatestCheckpoint returns the checkpoint directory with the highest step
// under outDir, or an error when there is none.
func LatestCheckpoint(outDir string) (string, error) {
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return "", fmt.Errorf("find checkpoint: %w", err)
	}
	type found struct {
		step int
		dir  string
	}
	var fs []found
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if !e.IsDir() || !ok {
			continue
		}
		step, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		fs = append(fs, found{step, filepath.Join(outDir, e.Name())})
	}
	if len(fs) == 0 {
		return "", errors.New("find checkpoint: no checkpoint-<step> directory in " + outDir)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].step > fs[j].step })
	return fs[0].dir, nil
}
