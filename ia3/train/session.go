package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// cursor is a position in the stream of micro-batches: batch Batch of
// epoch Epoch. Each epoch's order is a permutation drawn from a PCG
// generator seeded by (seed, epoch+1), so the cursor and the seed are the
// whole random state of the data order.
type cursor struct {
	Epoch int `json:"epoch"`
	Batch int `json:"batch_in_epoch"`
}

// session is one training run over a model already on its device.
type session struct {
	opts  Options
	b     backend.Backend
	base  *model.Model
	pm    *ia3.Model
	train *dataset
	eval  *dataset
	sched Schedule
	total int
	opt   *Optimizer
	st    *stepper
	cur   cursor
	perm  []int // the current epoch's order
	hist  history
	// lastCheckpoint is the newest checkpoint saved (or resumed from).
	lastCheckpoint string
}

// history is what a run has recorded so far; checkpoints carry it so a
// resumed run reports and plots the whole run.
type history struct {
	Losses []float64   `json:"losses"`
	LRs    []float64   `json:"learning_rates"`
	Evals  []EvalPoint `json:"evals"`
	Tokens int64       `json:"tokens"`
}

// newSession prepares the optimiser and schedule for a run of opts (with
// defaults applied) over train.
func newSession(opts Options, b backend.Backend, base *model.Model, pm *ia3.Model, train, eval *dataset) (*session, error) {
	s := &session{opts: opts, b: b, base: base, pm: pm, train: train, eval: eval}
	s.total = opts.MaxSteps
	if s.total == 0 {
		micro := opts.Epochs * s.batchesPerEpoch()
		s.total = (micro + opts.GradAccum - 1) / opts.GradAccum
	}
	var err error
	if s.sched, err = NewSchedule(opts.Schedule, opts.LR, opts.warmup(s.total), s.total); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if s.opt, err = NewOptimizer(b, pm.TrainableParams(), opts.Optim); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	s.st = &stepper{b: b, base: base, opt: s.opt, clip: opts.MaxGradNorm}
	return s, nil
}

// close frees the optimiser state.
func (s *session) close() {
	s.st.reset()
	s.opt.Free()
}

func (s *session) batchesPerEpoch() int {
	n := len(s.train.examples)
	return (n + s.opts.BatchSize - 1) / s.opts.BatchSize
}

// remainingMicro returns how many micro-batches the run may still take:
// unlimited (-1) with MaxSteps, else what is left of the epochs.
func (s *session) remainingMicro() int {
	if s.opts.MaxSteps > 0 {
		return -1
	}
	nb := s.batchesPerEpoch()
	return s.opts.Epochs*nb - (s.cur.Epoch*nb + s.cur.Batch)
}

// next returns the example indices of the micro-batch at the cursor and
// advances it.
func (s *session) next() []int {
	n := len(s.train.examples)
	if s.perm == nil {
		s.perm = rand.New(rand.NewPCG(s.opts.Seed, uint64(s.cur.Epoch)+1)).Perm(n)
	}
	bs := s.opts.BatchSize
	idx := s.perm[s.cur.Batch*bs : min((s.cur.Batch+1)*bs, n)]
	s.cur.Batch++
	if s.cur.Batch >= s.batchesPerEpoch() {
		s.cur = cursor{Epoch: s.cur.Epoch + 1}
		s.perm = nil
	}
	return idx
}
