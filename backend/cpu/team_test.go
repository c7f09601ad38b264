package cpu

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestTeamRunsEveryThreadOnce runs many jobs back to back, and some after
// the helpers have parked, on teams smaller than, equal to and larger than
// GOMAXPROCS: every thread index runs exactly once per job.
func TestTeamRunsEveryThreadOnce(t *testing.T) {
	for _, size := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tm := newTeam(size)
			defer tm.close()
			for job := range 200 {
				if job%50 == 49 {
					time.Sleep(2 * teamSpin) // let the helpers park
				}
				counts := make([]atomic.Int32, size)
				require.True(t, tm.run(func(th int) { counts[th].Add(1) }))
				for th := range counts {
					require.Equal(t, int32(1), counts[th].Load(), "job %d thread %d", job, th)
				}
			}
		})
	}
}

// TestTeamBusyAndClosed: a job started from inside a job, or on a closed
// team, is refused (the caller then runs the work itself).
func TestTeamBusyAndClosed(t *testing.T) {
	tm := newTeam(2)
	var inner []bool
	require.True(t, tm.run(func(th int) {
		if th == 0 {
			inner = append(inner, tm.run(func(int) {}))
		}
	}))
	assert.Equal(t, []bool{false}, inner)
	tm.close()
	tm.close()
	assert.False(t, tm.run(func(int) {}))
}

// TestParallelFor covers [0, n) exactly once for sizes around the chunk
// count, with the team free and with it busy (the spawnFor fallback).
func TestParallelFor(t *testing.T) {
	b := New(2)
	defer b.Close()
	for _, n := range []int{0, 1, 2, 7, 8, 9, 1000} {
		for _, busy := range []bool{false, true} {
			t.Run(fmt.Sprintf("n%d/busy%v", n, busy), func(t *testing.T) {
				seen := make([]atomic.Int32, n)
				cover := func() {
					b.parallelFor(n, minParallelWork, func(lo, hi int) {
						for i := lo; i < hi; i++ {
							seen[i].Add(1)
						}
					})
				}
				if busy {
					require.True(t, b.team.run(func(th int) {
						if th == 0 {
							cover()
						}
					}))
				} else {
					cover()
				}
				for i := range seen {
					require.Equal(t, int32(1), seen[i].Load(), "index %d", i)
				}
			})
		}
	}
}

// TestParallelFor2Order: every chunk of the second phase starts after every
// index of the first has run, and both phases cover their range once,
// with the team free and busy.
func TestParallelFor2Order(t *testing.T) {
	b := New(3)
	defer b.Close()
	for _, n := range [][2]int{{1, 1}, {2, 9}, {40, 3}, {100, 100}} {
		for _, busy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%d/busy%v", n[0], n[1], busy), func(t *testing.T) {
				first, second := make([]atomic.Int32, n[0]), make([]atomic.Int32, n[1])
				var firstDone, early atomic.Int32
				cover := func() {
					b.parallelFor2(n[0], minParallelWork, func(lo, hi int) {
						for i := lo; i < hi; i++ {
							first[i].Add(1)
						}
						time.Sleep(time.Microsecond)
						firstDone.Add(int32(hi - lo))
					}, n[1], minParallelWork, func(lo, hi int) {
						if int(firstDone.Load()) != n[0] {
							early.Add(1)
						}
						for i := lo; i < hi; i++ {
							second[i].Add(1)
						}
					})
				}
				if busy {
					require.True(t, b.team.run(func(th int) {
						if th == 0 {
							cover()
						}
					}))
				} else {
					cover()
				}
				assert.Zero(t, early.Load())
				for i := range first {
					require.Equal(t, int32(1), first[i].Load(), "first phase index %d", i)
				}
				for i := range second {
					require.Equal(t, int32(1), second[i].Load(), "second phase index %d", i)
				}
			})
		}
	}
}

// TestProductsOnTeamSizes runs packed products on teams of one, two and
// three threads (more than this CPU may have) with the fastest kernel and
// compares them with the pure-Go kernel on one thread: rows fewer than
// threads·mr, columns fewer than threads·nr, sizes that are not multiples
// of the tiles or of kc, and an A too large to pack at once (m·k above
// aPackLimit, so several packing passes each run as a job of the team).
func TestProductsOnTeamSizes(t *testing.T) {
	ref := backend.Checked(newWithArch(1, genericArch))
	tests := []struct{ m, n, k int }{
		{5, 700, 300},
		{13, 40, 1000},
		{23, 65, 257},
		{128, 256, 770},
		{aInL1Rows + 13, 97, 385},
		{aInL1Rows + 4, 33, aPackLimit/(aInL1Rows+4) + 700},
	}
	run := func(b backend.Backend, m, n, k int) []float32 {
		x := f32s(t, b, random(1, m*k), m, k)
		w := f32s(t, b, random(2, n*k), n, k)
		return values(t, b, must(t)(b.Linear(x, w, backend.LinearOptions{})), m, n)
	}
	for _, tc := range tests {
		want := run(ref, tc.m, tc.n, tc.k)
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%dx%dx%d/w%d", tc.m, tc.n, tc.k, workers), func(t *testing.T) {
				be := backend.Checked(New(workers))
				defer be.Close()
				assert.InDeltaSlice(t, want, run(be, tc.m, tc.n, tc.k), 1e-5*math.Sqrt(float64(tc.k))+1e-6)
			})
		}
	}
}
