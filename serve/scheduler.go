package serve

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"time"

	"github.com/ia3/ia3/model"
)

// seq is one sequence to generate: one choice of one request.
type seq struct {
	ctx     context.Context
	adapter string // "" for the base model
	model   string // the model id asked for
	prompt  []int32
	max     int
	eos     []int32 // the tokens that end it
	sampler *model.Sampler
	// logprobs is the number of top alternatives to report per token, or
	// -1 for no log-probabilities.
	logprobs int
	// out receives every token and then the end; its buffer holds max+1
	// events, so the scheduler never waits for a slow client.
	out      chan event
	queuedAt time.Time
}

// newSeq returns a sequence with its event buffer.
func (s *Server) newSeq(ctx context.Context, modelID string, prompt []int32, eos []int32, maxTokens int, sampler *model.Sampler, logprobs int) *seq {
	adapter := modelID
	if modelID == s.o.BaseName {
		adapter = ""
	}
	return &seq{ctx: ctx, adapter: adapter, model: modelID, prompt: prompt, eos: eos, max: maxTokens, sampler: sampler,
		logprobs: logprobs, out: make(chan event, maxTokens+1), queuedAt: time.Now()}
}

// event is one generated token or the end of a sequence.
type event struct {
	tok     int32
	logprob float32
	top     []tokenLogprob
	// finish is "stop" (an EOS token, included as tok) or "length" on the
	// last token; "" before.
	finish string
	// err ends the sequence without a token.
	err error
}

// tokenLogprob is one token with its log-probability.
type tokenLogprob struct {
	id      int32
	logprob float32
}

// row is one sequence decoding in the batch, at the same index as its KV
// cache row.
type row struct {
	q    *seq
	last int32
	n    int
	done bool
}

// scheduler owns the model and the KV cache; run is its goroutine.
type scheduler struct {
	s     *Server
	cache *model.KVCache
	rows  []*row
}

// newScheduler makes the scheduler's empty row cache.
func newScheduler(s *Server) (*scheduler, error) {
	c, err := s.base.NewRowCache()
	if err != nil {
		return nil, err
	}
	return &scheduler{s: s, cache: c}, nil
}

// run admits, steps and drops sequences until the server closes.
func (sc *scheduler) run() {
	s := sc.s
	defer close(s.done)
	defer func() { sc.cache.Free() }()
	for {
		if len(sc.rows) == 0 && !sc.pending() {
			select {
			case <-s.stop:
				sc.cancelAll()
				return
			case <-s.wake:
			}
		}
		select {
		case <-s.stop:
			sc.cancelAll()
			return
		default:
		}
		sc.iterate()
	}
}

// iterate runs one round: adapter work, admission with prefill, one
// decoding step, and the removal of finished rows. A panic (a bug) fails
// the rows of this batch instead of the whole server.
func (sc *scheduler) iterate() {
	defer func() {
		if r := recover(); r != nil {
			sc.s.o.Logger.Error("serve: scheduler panic; failing the running requests", "panic", r, "stack", string(debug.Stack()))
			sc.failAll(fmt.Errorf("internal error: %v", r))
		}
	}()
	sc.runControls()
	sc.admit()
	sc.drop()
	if len(sc.rows) > 0 {
		sc.step()
		sc.drop()
	}
}

// pending reports whether sequences or control work are waiting.
func (sc *scheduler) pending() bool {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	return len(sc.s.queue) > 0 || len(sc.s.control) > 0
}

// runControls runs the queued adapter loads and deletions.
func (sc *scheduler) runControls() {
	sc.s.mu.Lock()
	fns := sc.s.control
	sc.s.control = nil
	sc.s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// admit takes queued sequences into free batch rows, prefills their
// prompts in one left-padded pass with each row's adapter, emits their
// first tokens and appends their cache rows to the batch.
func (sc *scheduler) admit() {
	s := sc.s
	free := s.o.MaxBatch - len(sc.rows)
	if free <= 0 {
		return
	}
	s.mu.Lock()
	// Admit while the padded prefill stays within MaxPrefillTokens (at
	// least one sequence), so a burst of long prompts does not stall the
	// rows already decoding for long.
	take, longest := 0, 0
	for take < min(free, len(s.queue)) {
		l := max(longest, len(s.queue[take].prompt))
		if take > 0 && (take+1)*l > s.o.MaxPrefillTokens {
			break
		}
		take, longest = take+1, l
	}
	batch := slices.Clone(s.queue[:take])
	s.queue = slices.Delete(s.queue, 0, take)
	s.m.setQueue(len(s.queue))
	s.mu.Unlock()
	var rows []*row
	for _, q := range batch {
		switch {
		case q.ctx.Err() != nil:
			q.out <- event{err: q.ctx.Err()}
		case q.adapter != "" && !s.hasModel(q.model):
			q.out <- event{err: fmt.Errorf("adapter %s was deleted while the request waited", q.model)}
		default:
			rows = append(rows, &row{q: q})
		}
	}
	if len(rows) == 0 {
		return
	}
	prompts := make([][]int32, len(rows))
	for i, r := range rows {
		prompts[i] = r.q.prompt
	}
	fail := func(err error) {
		for _, r := range rows {
			r.q.out <- event{err: err}
		}
	}
	nc, err := s.base.NewCache(len(rows))
	if err != nil {
		fail(err)
		return
	}
	defer nc.Free()
	logits, err := s.base.StepLogits(context.Background(), model.PrefillInputs(prompts, s.pad), nc, adaptersOf(rows))
	if err != nil {
		s.o.Logger.Error("serve: prefill failed", "rows", len(rows), "err", err)
		fail(fmt.Errorf("prefill: %w", err))
		return
	}
	s.m.prefill()
	if err := sc.cache.AppendRows(nc); err != nil {
		s.o.Logger.Error("serve: joining the batch failed", "err", err)
		fail(err)
		return
	}
	sc.rows = append(sc.rows, rows...)
	sc.emit(rows, logits)
}

// adaptersOf names each row's adapter for the mixed-adapter batch.
func adaptersOf(rows []*row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.q.adapter
	}
	return out
}

// step decodes one token for every row.
func (sc *scheduler) step() {
	s := sc.s
	in := &model.Inputs{Batch: len(sc.rows), Seq: 1, InputIDs: make([]int32, len(sc.rows)), PositionIDs: sc.cache.NextPositions()}
	for i, r := range sc.rows {
		in.InputIDs[i] = r.last
	}
	logits, err := s.base.StepLogits(context.Background(), in, sc.cache, adaptersOf(sc.rows))
	if err != nil {
		// The cache is inconsistent after a failed step: every row fails.
		s.o.Logger.Error("serve: decoding step failed", "rows", len(sc.rows), "err", err)
		sc.failAll(fmt.Errorf("decoding step: %w", err))
		return
	}
	s.m.decode()
	sc.emit(sc.rows, logits)
}

// emit chooses each row's next token from its logits [len(rows)·V] and
// sends it to the row's request.
func (sc *scheduler) emit(rows []*row, logits []float32) {
	s := sc.s
	V := len(logits) / len(rows)
	now := time.Now()
	for i, r := range rows {
		l := logits[i*V : (i+1)*V]
		tok, err := r.q.sampler.Next(l)
		if err != nil {
			r.done = true
			r.q.out <- event{err: fmt.Errorf("sampling: %w", err)}
			continue
		}
		ev := event{tok: tok}
		if r.q.logprobs >= 0 {
			ev.logprob, ev.top = logprobs(l, tok, r.q.logprobs)
		}
		if r.n == 0 {
			s.m.firstToken(r.q.model, now.Sub(r.q.queuedAt))
		}
		r.n++
		r.last = tok
		switch {
		case slices.Contains(r.q.eos, tok):
			ev.finish = "stop"
		case r.n >= r.q.max:
			ev.finish = "length"
		}
		r.done = ev.finish != ""
		s.m.token(r.q.model)
		r.q.out <- ev
	}
}

// drop removes finished, cancelled and expired rows from the batch and
// the cache.
func (sc *scheduler) drop() {
	var keep []int
	var rows []*row
	for i, r := range sc.rows {
		if r.done {
			continue
		}
		if err := r.q.ctx.Err(); err != nil {
			r.q.out <- event{err: err}
			continue
		}
		keep = append(keep, i)
		rows = append(rows, r)
	}
	if len(rows) == len(sc.rows) {
		sc.s.m.setRows(len(sc.rows), sc.cache.Rows())
		return
	}
	if err := sc.cache.KeepRows(keep); err != nil {
		sc.s.o.Logger.Error("serve: dropping rows failed", "err", err)
		sc.rows = rows
		sc.failAll(err)
		return
	}
	sc.rows = rows
	sc.s.m.setRows(len(sc.rows), sc.cache.Rows())
}

// failAll ends every decoding row with err and starts a fresh cache.
func (sc *scheduler) failAll(err error) {
	for _, r := range sc.rows {
		if !r.done {
			r.q.out <- event{err: err}
		}
	}
	sc.rows = nil
	_ = sc.cache.KeepRows(nil) // emptying never fails
	sc.s.m.setRows(0, sc.cache.Rows())
}

// cancelAll ends every decoding and queued sequence: the server closes.
func (sc *scheduler) cancelAll() {
	sc.failAll(errShuttingDown)
	s := sc.s
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	// Waiting adapter loads and deletions never run: their callers see
	// the scheduler end.
	s.control = nil
	s.m.setQueue(0)
	s.mu.Unlock()
	for _, x := range q {
		x.out <- event{err: errShuttingDown}
	}
}

// logprobs returns tok's log-probability under softmax(logits) and the
// top alternatives, most likely first.
func logprobs(logits []float32, tok int32, top int) (float32, []tokenLogprob) {
	hi := math.Inf(-1)
	for _, v := range logits {
		hi = math.Max(hi, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - hi)
	}
	norm := hi + math.Log(sum)
	lp := func(id int32) float32 { return float32(float64(logits[id]) - norm) }
	var best []tokenLogprob
	for i := range logits {
		id := int32(i)
		if len(best) < top {
			best = append(best, tokenLogprob{id, lp(id)})
		} else if top > 0 && logits[id] > logits[best[top-1].id] {
			best[top-1] = tokenLogprob{id, lp(id)}
		} else {
			continue
		}
		slices.SortStableFunc(best, func(a, b tokenLogprob) int {
			switch {
			case a.logprob > b.logprob:
				return -1
			case a.logprob < b.logprob:
				return 1
			}
			return int(a.id - b.id)
		})
	}
	return lp(tok), best
}
