package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// teamSpin is how long a helper keeps polling for the next job before it
// parks. Products come back to back in a model's forward and backward
// passes; a helper still polling starts within a microsecond, a parked one
// needs the scheduler to wake a thread (tens of microseconds on the 2-core
// VM measured, a few percent of a sub-millisecond product).
const teamSpin = 100 * time.Microsecond

// team is a fixed set of helper goroutines that run one job at a time
// together with the caller: the matrix kernel's workers. Unlike
// parallelFor, which starts goroutines on every call, its helpers persist,
// polling briefly after each job and then parking, so a product that
// follows another starts on every core at once. A job is fork/join only:
// jobs never wait for each other inside, so a helper that starts late (or
// never, while GOMAXPROCS is below the team's size) delays nothing but its
// own share, which the job hands out dynamically.
type team struct {
	size int // threads running each job, the caller included
	// mu is held by the caller for the length of one job; a caller that
	// cannot take it (another job running) runs its work alone.
	mu    sync.Mutex
	start sync.Once
	gen   atomic.Uint64 // bumped once per job; helpers run each value once
	job   func(t int)   // the current job, published before gen is bumped
	// finished counts down the helpers still running the current job.
	finished *latch
	// parked[h] is set while helper h waits on wake[h] (a buffered channel
	// of one: a wake-up is never lost, a stale one costs one extra poll).
	parked []atomic.Bool
	wake   []chan struct{}
	closed atomic.Bool
}

// newTeam returns a team of size threads (the caller and size-1 helpers,
// started on first use).
func newTeam(size int) *team {
	tm := &team{size: max(size, 1)}
	tm.parked = make([]atomic.Bool, tm.size)
	tm.wake = make([]chan struct{}, tm.size)
	for h := range tm.wake {
		tm.wake[h] = make(chan struct{}, 1)
	}
	return tm
}

// run calls fn(t) for t in [0, size) on the team, fn(0) on the caller,
// and returns when every call has; it returns false without calling fn
// when the team is busy with another job or closed.
func (tm *team) run(fn func(t int)) bool {
	if tm.closed.Load() || !tm.mu.TryLock() {
		return false
	}
	tm.start.Do(func() {
		for h := 1; h < tm.size; h++ {
			go tm.helper(h, tm.gen.Load())
		}
	})
	tm.job = fn
	tm.finished = newLatch(tm.size - 1)
	tm.gen.Add(1)
	for h := 1; h < tm.size; h++ {
		if tm.parked[h].CompareAndSwap(true, false) {
			select {
			case tm.wake[h] <- struct{}{}:
			default:
			}
		}
	}
	// Even if fn(0) panics, the helpers finish before the next job.
	defer func() {
		tm.finished.wait()
		tm.job, tm.finished = nil, nil
		tm.mu.Unlock()
	}()
	fn(0)
	return true
}

// helper runs every job of the team after generation seen as thread h
// until the team closes.
func (tm *team) helper(h int, seen uint64) {
	for {
		g, ok := tm.next(h, seen)
		if !ok {
			return
		}
		seen = g
		tm.job(h)
		tm.finished.done()
	}
}

// next waits for a job newer than seen: polling for teamSpin, then
// parked. It returns false once the team is closed.
func (tm *team) next(h int, seen uint64) (uint64, bool) {
	for {
		var g uint64
		if spinUntil(func() bool { g = tm.gen.Load(); return g != seen || tm.closed.Load() }, teamSpin) {
			return g, !tm.closed.Load()
		}
		tm.parked[h].Store(true)
		// A job posted between the last poll and parking: run may have
		// seen parked false and not sent a wake-up.
		if g := tm.gen.Load(); g != seen {
			tm.parked[h].Store(false)
			return g, true
		}
		if _, ok := <-tm.wake[h]; !ok {
			return 0, false
		}
	}
}

// spinUntil polls cond until it holds (true) or limit has passed (false),
// yielding the processor every few microseconds so that goroutines waiting
// for it (a helper that has none, other operations' workers) still run.
func spinUntil(cond func() bool, limit time.Duration) bool {
	start := time.Now()
	for polls := 1; ; polls++ {
		if cond() {
			return true
		}
		if polls%256 == 0 {
			if time.Since(start) > limit {
				return false
			}
			if polls%4096 == 0 {
				runtime.Gosched()
			}
		}
	}
}

// latchSpin is how long a latch's waiter polls before it blocks: long
// enough for the other threads' last chunks of a product's phase, short
// enough not to hold a core from other work when a thread was descheduled.
const latchSpin = 50 * time.Microsecond

// latch is a countdown that one or more threads wait on: they poll it
// for latchSpin, then block until the last done closes its channel.
type latch struct {
	n  atomic.Int32
	ch chan struct{}
}

// newLatch returns a latch open after n calls of done (at once for n ≤ 0).
func newLatch(n int) *latch {
	l := &latch{ch: make(chan struct{})}
	l.n.Store(int32(n))
	if n <= 0 {
		close(l.ch)
	}
	return l
}

// done counts one down; the last opens the latch.
func (l *latch) done() {
	if l.n.Add(-1) == 0 {
		close(l.ch)
	}
}

// wait returns once the latch is open.
func (l *latch) wait() {
	if !spinUntil(func() bool { return l.n.Load() <= 0 }, latchSpin) {
		<-l.ch
	}
}

// close stops the helpers once they finish any job under way; later runs
// return false.
func (tm *team) close() {
	if tm.closed.Swap(true) {
		return
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for h := 1; h < tm.size; h++ {
		close(tm.wake[h])
	}
}

// parallelFor2 runs fn1 over [0, n1), then fn2 over [0, n2), each as
// parallelFor does (cost is the work of one index) but in one job of the
// team: up to four chunks per thread, handed out in order as threads free
// up, and no thread starts on fn2 before every chunk of fn1 has finished
// (the matrix kernel packs A, then every strip of C reads all of it).
// When the team is busy (a parallelFor inside another), it falls back to
// spawnFor, once per phase.
func (b *Backend) parallelFor2(n1, cost1 int, fn1 func(lo, hi int), n2, cost2 int, fn2 func(lo, hi int)) {
	n1, n2 = max(n1, 0), max(n2, 0)
	work := n1*max(cost1, 1) + n2*max(cost2, 1)
	if b.workers <= 1 || max(n1, n2) <= 1 || work < minParallelWork {
		if n1 > 0 {
			fn1(0, n1)
		}
		if n2 > 0 {
			fn2(0, n2)
		}
		return
	}
	c1, c2 := min(n1, 4*b.workers), min(n2, 4*b.workers)
	var next1, next2 atomic.Int32
	packed := newLatch(c1)
	job := func(int) {
		for {
			c := int(next1.Add(1) - 1)
			if c >= c1 {
				break
			}
			fn1(c*n1/c1, (c+1)*n1/c1)
			packed.done()
		}
		packed.wait()
		for {
			c := int(next2.Add(1) - 1)
			if c >= c2 {
				return
			}
			fn2(c*n2/c2, (c+1)*n2/c2)
		}
	}
	if !b.team.run(job) {
		b.spawnFor(n1, cost1, fn1)
		b.spawnFor(n2, cost2, fn2)
	}
}
