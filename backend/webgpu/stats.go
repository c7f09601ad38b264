//go:build cgo && !nowebgpu

package webgpu

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/gpu"
	"github.com/ia3/ia3/shaders"
)

// Stats reports the WebGPU objects alive in wgpu's hub for the backend's
// API (buffers, bind groups, pipelines), as wgpu counts them: after
// ReleaseCached, a steady workload must leave them flat. Leak tests and
// diagnostics use it.
func (b *Backend) Stats() gpu.Counts { return b.dev.Live() }

// AllocatedBytes returns the device bytes held by live tensors (the
// buffer pool's cache of freed buffers excluded), for memory benchmarks.
func (b *Backend) AllocatedBytes() uint64 { return b.dev.AllocatedBytes() }

// CheckShaders compiles every kernel file of package shaders on the device,
// so a WGSL error in an entry point no test dispatches still fails a test.
func (b *Backend) CheckShaders() error {
	var errs []error
	for _, name := range shaders.Names() {
		src, err := shaders.Source(name)
		if err == nil {
			err = b.dev.CheckShader(name, src)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReleaseCached waits for queued work and releases the buffers and bind
// groups the backend keeps only for reuse (freed tensors' buffers, cached
// bind groups), returning idle device memory; live tensors stay. The next
// operations refill the caches.
func (b *Backend) ReleaseCached() error {
	if b.closed {
		return fmt.Errorf("webgpu: ReleaseCached: backend is closed")
	}
	if err := b.dev.ReleaseCached(); err != nil {
		return fmt.Errorf("webgpu: %s: %w", b.info.Spec, err)
	}
	return b.checkDevice()
}

// Counters returns the dispatches, queue submits, uploads, readbacks and
// device copies recorded since the backend opened (backend.WorkCounter),
// so benchmarks can report them per step.
func (b *Backend) Counters() backend.WorkCounts {
	c := b.dev.Counters()
	return backend.WorkCounts{Dispatches: c.Dispatches, Submits: c.Submits, Uploads: c.Uploads,
		UploadBytes: c.UploadBytes, Readbacks: c.Readbacks, ReadbackBytes: c.ReadbackBytes, Copies: c.Copies}
}

// PeakBytes returns the most device bytes live tensors have held since the
// backend opened or the last ResetPeak, as the buffer pool counts them on
// every allocation (bench.PeakReporter).
func (b *Backend) PeakBytes() uint64 { return b.dev.PeakBytes() }

// ResetPeak starts a new PeakBytes measurement from the bytes held now.
func (b *Backend) ResetPeak() { b.dev.ResetPeak() }
