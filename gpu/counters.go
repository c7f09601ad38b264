//go:build cgo && !nowebgpu

package gpu

// WorkCounts counts the work a device has recorded since it was opened:
// how many kernels ran (dispatches), how many command buffers reached the
// queue (submits), and the host↔device transfers. Unlike times, they do not
// depend on the GPU, so a software adapter measures them for every device:
// fewer dispatches and submits is less launch overhead, fewer bytes copied
// fewer passes over memory.
type WorkCounts struct {
	// Dispatches are compute dispatches recorded (empty grids, which
	// Dispatch skips, are not counted).
	Dispatches uint64
	// Submits are command buffers submitted to the queue.
	Submits uint64
	// Uploads are queue writes from the host (Write), UploadBytes their
	// bytes.
	Uploads, UploadBytes uint64
	// Readbacks are reads back to the host (Read), ReadbackBytes their
	// bytes.
	Readbacks, ReadbackBytes uint64
	// Copies are buffer-to-buffer copies and clears recorded on the device
	// (a Readback's copy into the staging buffer included).
	Copies uint64
}

// Counters returns the work counted since the device was opened.
func (d *Device) Counters() WorkCounts { return d.counts }

// PeakBytes returns the most bytes the device's live buffers have held
// (AllocatedBytes) since it was opened or since ResetPeak: exact, since the
// pool updates it on every Alloc, where sampling between steps misses the
// peak inside one.
func (d *Device) PeakBytes() uint64 { return d.pool.peak }

// ResetPeak starts a new PeakBytes measurement from the bytes allocated
// now.
func (d *Device) ResetPeak() { d.pool.peak = d.pool.inUse }
