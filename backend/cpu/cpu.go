// Package cpu is the pure-Go compute backend: tensors are Go slices and every
// operation of backend.Backend runs on the host, spread over the CPU's cores
// for large inputs. It is the reference the other backends are compared with,
// so it favours exact, readable arithmetic; MatMul and Linear use a
// cache-blocked kernel because training time depends on them.
//
// Importing the package registers the "cpu" provider with the backend
// registry; backend.Open(ctx, "cpu") returns it behind backend.Checked, which
// validates shapes and dtypes before any method here runs.
package cpu

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ia3/ia3/backend"
)

// Backend computes on the host. Like every backend it serves one goroutine at
// a time; each operation may use several worker goroutines inside.
type Backend struct {
	workers int
	info    backend.DeviceInfo
	closed  bool
	// arch is the matrix micro-kernel and its blocking, chosen once.
	arch gemmArch
	// packsA and packsB recycle the matrix kernel's packed-panel buffers,
	// apart because the two sizes differ: a B buffer handed out for A would
	// be too small and dropped.
	packsA, packsB sync.Pool
	// live and peak count the storage bytes of the tensors allocated and
	// not yet freed, as a GPU's buffer pool counts its buffers
	// (AllocatedBytes, PeakBytes).
	live, peak atomic.Int64
	// spares recycles freed F32 storage for the outputs of matrix products.
	spares spares
	// team runs the matrix kernel's parallel work on persistent helpers.
	team *team
}

// New returns a CPU backend that runs large operations on workers goroutines;
// workers ≤ 0 means runtime.GOMAXPROCS(0). Its matrix kernel is the fastest
// this CPU runs (backend.Open honours IA3_CPU_KERNEL instead). It performs
// no validation of its own: open it through backend.Open, or wrap it with
// backend.Checked.
func New(workers int) *Backend {
	return newWithArch(workers, availableArchs()[0])
}

// newWithArch returns a backend computing matrix products with ar.
func newWithArch(workers int, ar gemmArch) *Backend {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	b := &Backend{workers: workers, info: hostInfo(ar), arch: ar, team: newTeam(workers)}
	b.info.Parallelism = workers
	// The helpers hold the team, not the backend, so a backend dropped
	// without Close still stops them.
	runtime.AddCleanup(b, func(tm *team) { tm.close() }, b.team)
	return b
}

// errClosed is returned by every operation after Close.
var errClosed = errors.New("cpu backend is closed")

// Info describes the host CPU.
func (b *Backend) Info() backend.DeviceInfo { return b.info }

// Close marks the backend closed; tensors become garbage for Go's collector.
func (b *Backend) Close() error {
	b.closed = true
	b.team.close()
	return nil
}

// Sync has nothing to wait for: every operation completes before it returns.
func (b *Backend) Sync() error {
	if b.closed {
		return errClosed
	}
	return nil
}
