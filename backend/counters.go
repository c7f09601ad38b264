package backend

// WorkCounts is the work a device has recorded: kernels dispatched,
// command buffers submitted, and host↔device transfers. They do not depend
// on which GPU runs the work, so a software adapter (lavapipe) measures
// them for every device; benchmarks report them per step beside the times.
type WorkCounts struct {
	// Dispatches are compute kernels recorded.
	Dispatches uint64 `json:"dispatches"`
	// Submits are command buffers submitted to the device's queue.
	Submits uint64 `json:"submits"`
	// Uploads are host-to-device writes, UploadBytes their bytes.
	Uploads     uint64 `json:"uploads"`
	UploadBytes uint64 `json:"upload_bytes"`
	// Readbacks are device-to-host reads, ReadbackBytes their bytes.
	Readbacks     uint64 `json:"readbacks"`
	ReadbackBytes uint64 `json:"readback_bytes"`
	// Copies are device-side buffer copies and clears.
	Copies uint64 `json:"copies"`
}

// Sub returns the work counted between before and c.
func (c WorkCounts) Sub(before WorkCounts) WorkCounts {
	return WorkCounts{
		Dispatches:    c.Dispatches - before.Dispatches,
		Submits:       c.Submits - before.Submits,
		Uploads:       c.Uploads - before.Uploads,
		UploadBytes:   c.UploadBytes - before.UploadBytes,
		Readbacks:     c.Readbacks - before.Readbacks,
		ReadbackBytes: c.ReadbackBytes - before.ReadbackBytes,
		Copies:        c.Copies - before.Copies,
	}
}

// WorkCounter is implemented by backends that count the work they record
// (the WebGPU backend). Find it behind wrappers such as Checked with their
// Unwrap method.
type WorkCounter interface {
	// Counters returns the work counted since the backend was opened.
	Counters() WorkCounts
}
