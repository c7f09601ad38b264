package bench

import (
	"runtime"

	"github.com/ia3/ia3/backend"
)

// MemoryReporter is implemented by backends that count the bytes they have
// allocated on the device (their buffer pool), so benchmarks can report
// device memory. The CPU backend's memory is the Go heap instead.
type MemoryReporter interface {
	// AllocatedBytes returns the device bytes currently allocated.
	AllocatedBytes() uint64
}

// unwrap returns the backend behind validating wrappers.
func unwrap(b backend.Backend) backend.Backend {
	for {
		u, ok := b.(interface{ Unwrap() backend.Backend })
		if !ok {
			return b
		}
		b = u.Unwrap()
	}
}

// memoryProbe returns how to read b's memory in use: its own counter when
// it has one (the CPU backend counts its tensors' storage bytes, as a GPU
// pool counts its buffers), the Go heap for a Go backend without one, nil
// otherwise.
func memoryProbe(b backend.Backend) func() uint64 {
	if r, ok := unwrap(b).(MemoryReporter); ok {
		return r.AllocatedBytes
	}
	if b.Info().API == "Go" {
		return func() uint64 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapInuse
		}
	}
	return nil
}

// PeakReporter is implemented by backends that also keep the largest
// number of bytes they have held (the CPU backend), so that a benchmark's
// peak is exact rather than sampled between steps.
type PeakReporter interface {
	// PeakBytes returns the largest AllocatedBytes since ResetPeak.
	PeakBytes() uint64
	// ResetPeak starts a new measurement from the bytes allocated now.
	ResetPeak()
}

// memorySource names where memoryProbe's figure comes from.
func memorySource(b backend.Backend) string {
	if _, ok := unwrap(b).(MemoryReporter); ok {
		if b.Info().API == "Go" {
			return "tensor storage"
		}
		return "device pool"
	}
	return "go heap in use"
}
