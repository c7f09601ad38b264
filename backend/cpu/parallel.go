package cpu

import "sync"

// minParallelWork is the number of element operations below which an
// operation runs on the calling goroutine: starting workers costs a few
// microseconds, which small tensors do not repay.
const minParallelWork = 1 << 15

// parallelFor runs fn over [0, n) split into contiguous chunks, on the
// backend's team of b.workers threads (the caller and persistent helpers)
// when n·cost (the work of one index, in element operations) is large
// enough to pay for them, else on the caller.
func (b *Backend) parallelFor(n, cost int, fn func(lo, hi int)) {
	b.parallelFor2(n, cost, fn, 0, 0, nil)
}

// spawnFor is parallelFor on up to b.workers new goroutines, the caller
// waiting: the fallback while the team is busy.
func (b *Backend) spawnFor(n, cost int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := b.workers
	if w > n {
		w = n
	}
	if w <= 1 || n*max(cost, 1) < minParallelWork {
		fn(0, n)
		return
	}
	// A few chunks per worker even out uneven progress.
	chunks := min(n, 4*w)
	var next int
	var mu sync.Mutex
	take := func() (int, int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= chunks {
			return 0, 0, false
		}
		c := next
		next++
		return c * n / chunks, (c + 1) * n / chunks, true
	}
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				lo, hi, ok := take()
				if !ok {
					return
				}
				fn(lo, hi)
			}
		})
	}
	wg.Wait()
}
