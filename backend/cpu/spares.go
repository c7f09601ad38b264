package cpu

import "sync"

// spareMin is the fewest floats worth recycling: below it, allocating and
// zeroing costs less than the bookkeeping.
const spareMin = 1 << 14

// spares recycles freed F32 storage by exact length, one sync.Pool per
// length, so the garbage collector still reclaims whatever sits unused
// through two collections.
type spares struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

// pool returns the pool for buffers of n floats, created when create is
// set; nil otherwise.
func (s *spares) pool(n int, create bool) *sync.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[n]
	if p == nil && create {
		if s.pools == nil {
			s.pools = map[int]*sync.Pool{}
		}
		p = &sync.Pool{}
		s.pools[n] = p
	}
	return p
}

// put keeps f for a later get of its length; short buffers are dropped.
func (s *spares) put(f []float32) {
	if len(f) < spareMin {
		return
	}
	f = f[:len(f):len(f)]
	s.pool(len(f), true).Put(&f)
}

// get returns a freed buffer of exactly n floats holding stale values, or
// nil when there is none.
func (s *spares) get(n int) []float32 {
	if n < spareMin {
		return nil
	}
	p := s.pool(n, false)
	if p == nil {
		return nil
	}
	if f, ok := p.Get().(*[]float32); ok {
		return *f
	}
	return nil
}
