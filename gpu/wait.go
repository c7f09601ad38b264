//go:build cgo && !nowebgpu

package gpu

import (
	"fmt"
	"runtime"
	"time"
)

// Waiting for the device never uses wgpu's waiting poll
// (wgpuDevicePoll(device, true, ...)): in wgpu-native 0.17 it blocks on the
// submission fence for at most 5 seconds (wgpu-core's CLEANUP_WAIT_MS), then
// ignores the timeout, marks every submission finished, frees the command
// buffers and destroyed buffers they still use, fires map callbacks with
// success and reports the queue empty. Work that outlasts it (a GPT-2 step
// over 6144 tokens on lavapipe, or any batch on a loaded machine) then reads
// stale data or crashes the driver's queue thread with SIGSEGV. A
// non-blocking poll reads the fence as it is, so the device is polled
// without blocking: back to back for the first spinWait, since most waits
// (a readback per generated token, a test's small op) end within it and a
// sleep costs about a millisecond whatever it asks for (a 50 µs round trip
// on lavapipe took 1 ms with sleeps from the start); then sleeping in
// between, so a long batch leaves the cores to the device (lavapipe's
// threads need them).
const (
	spinWait     = time.Millisecond
	minPollPause = 20 * time.Microsecond  // first pause between polls
	maxPollPause = 500 * time.Microsecond // pauses double up to this
	// maxWait bounds a wait against a driver that never finishes; far
	// above any batch a working device runs (lavapipe's slowest are
	// minutes).
	maxWait = 30 * time.Minute
)

// await polls the device without blocking until done, given whether wgpu
// reports its queue empty, returns true. what names the wait in errors.
func (d *Device) await(what string, done func(queueEmpty bool) bool) error {
	start := time.Now()
	pause := minPollPause
	for {
		if done(d.raw.Poll(false, nil)) {
			return nil
		}
		if err := d.lostErr(); err != nil {
			return err
		}
		waited := time.Since(start)
		if waited > maxWait {
			return fmt.Errorf("gpu: %s: not finished after %v", what, waited.Round(time.Second))
		}
		if waited < spinWait {
			runtime.Gosched()
			continue
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPollPause)
	}
}

// idle waits until the device has finished every submitted batch.
func (d *Device) idle() error {
	return d.await("waiting for queued work", func(empty bool) bool { return empty })
}
