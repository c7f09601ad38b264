package quant

import (
	"runtime"
	"sync"
)

// parallelBlocks is the fewest blocks worth spreading over goroutines.
const parallelBlocks = 1 << 12

// forBlocks calls fn on consecutive ranges [lo, hi) covering [0, n),
// concurrently on up to GOMAXPROCS goroutines when n is large. Each block's
// result depends on that block alone, so the output is the same however the
// work is split.
func forBlocks(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelBlocks || workers < 2 {
		fn(0, n)
		return
	}
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
