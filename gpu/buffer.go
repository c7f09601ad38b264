//go:build cgo && !nowebgpu

package gpu

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Buffer is a storage buffer from the device's pool. Its capacity may exceed
// what was asked for (sizes are bucketed so freed buffers can be reused).
type Buffer struct {
	raw  *wgpu.Buffer
	size uint64 // capacity in bytes, a multiple of 16
}

// Size returns the buffer's capacity in bytes.
func (b *Buffer) Size() uint64 { return b.size }

// storageUsage is the usage of every pooled buffer: bound to kernels, copied
// to staging for readback, written by the queue and cleared.
const storageUsage = wgpu.BufferUsage_Storage | wgpu.BufferUsage_CopySrc | wgpu.BufferUsage_CopyDst

// pool recycles storage buffers by capacity. A freed buffer may still be
// read by recorded but unsubmitted work, so it waits in pending until the
// next submission; only then can a queue write to it not overtake that work.
type pool struct {
	d       *Device
	free    map[uint64][]*Buffer
	pending []*Buffer
	all     map[*Buffer]struct{} // every buffer created and not destroyed
	idle    uint64               // bytes held in the free lists
	inUse   uint64               // bytes handed out by Alloc and not yet freed
	peak    uint64               // the most inUse has been
	minIdle uint64               // minIdleBytes; tests lower it
}

// minIdleBytes is the least memory the pool keeps for reuse. It keeps up
// to the larger of this and the peak bytes live tensors have held, so a loop
// whose working set repeats (a training step, a generation step) reuses its
// buffers instead of destroying and creating them again each iteration,
// which costs hundreds of milliseconds a step on some drivers (measured on
// NVIDIA's Vulkan driver). An allocation that fails drains the pool and
// retries, so the cache never stands in the way of live tensors.
const minIdleBytes = 1 << 30

func (p *pool) init(d *Device) {
	p.d = d
	p.free = map[uint64][]*Buffer{}
	p.all = map[*Buffer]struct{}{}
	p.minIdle = minIdleBytes
}

// bucket rounds n up to the next of 2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k (at
// most 25% waste), a multiple of 16, capped at limit when that is smaller.
func bucket(n, limit uint64) uint64 {
	n = max(16, (n+15)&^15)
	if n <= 256 {
		return n
	}
	k := 63 - bits.LeadingZeros64(n-1) // 2^k < n ≤ 2^(k+1)
	step := uint64(1) << (k - 2)
	b := (n + step - 1) / step * step
	if b > limit {
		return n
	}
	return b
}

// Alloc returns a buffer of at least size bytes, reusing a freed one of the
// same bucket when it can. Sizes over the device's storage binding limit are
// refused before anything is allocated.
func (d *Device) Alloc(size uint64) (*Buffer, error) {
	if err := d.Err(); err != nil {
		return nil, err
	}
	limit := min(d.limits.MaxStorageBufferBindingSize, d.limits.MaxBufferSize)
	if size > limit {
		return nil, fmt.Errorf("gpu: buffer of %d bytes exceeds the device limit of %d bytes (maxStorageBufferBindingSize)", size, limit)
	}
	cap := bucket(size, limit)
	if list := d.pool.free[cap]; len(list) > 0 {
		b := list[len(list)-1]
		d.pool.free[cap] = list[:len(list)-1]
		d.pool.idle -= b.size
		d.pool.use(b.size)
		return b, nil
	}
	b, err := d.createBuffer(cap)
	if err != nil && len(d.pool.free) > 0 {
		// Out of memory with buffers parked in the pool: give them back
		// and try once more.
		d.pool.drain()
		b, err = d.createBuffer(cap)
	}
	if err == nil {
		d.pool.use(b.size)
	}
	return b, err
}

// use counts size bytes handed out.
func (p *pool) use(size uint64) {
	p.inUse += size
	p.peak = max(p.peak, p.inUse)
}

// AllocatedBytes returns the device memory in buffers handed out by Alloc
// and not freed: what the caller's tensors occupy, without the pool's
// cache of freed buffers (as torch.cuda.memory_allocated).
func (d *Device) AllocatedBytes() uint64 { return d.pool.inUse }

func (d *Device) createBuffer(size uint64) (*Buffer, error) {
	var raw *wgpu.Buffer
	var cerr error
	err := scoped(d.raw, "gpu: creating buffer", func() {
		raw, cerr = d.raw.CreateBuffer(&wgpu.BufferDescriptor{Usage: storageUsage, Size: size})
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		if raw != nil {
			raw.Release()
		}
		return nil, fmt.Errorf("gpu: allocating %d bytes: %w", size, err)
	}
	b := &Buffer{raw: raw, size: size}
	d.pool.all[b] = struct{}{}
	return b, nil
}

// Free returns b to the pool. A buffer the current, unsubmitted batch uses
// waits for that batch's submission; any other is reusable at once, since
// the queue runs later work after what was submitted before. (Parking every
// freed buffer until the next submission made the first batch of each
// training step miss the pool and create its buffers anew.)
func (d *Device) Free(b *Buffer) {
	if b == nil || d.closed {
		return
	}
	d.pool.inUse -= b.size
	if d.batch.touched[b] {
		d.pool.pending = append(d.pool.pending, b)
		return
	}
	d.pool.keep(b)
}

// recycle moves buffers freed before a submission into the free lists, or
// destroys them when the lists already hold as much as the pool keeps
// (see minIdleBytes).
func (p *pool) recycle() {
	for _, b := range p.pending {
		p.keep(b)
	}
	p.pending = p.pending[:0]
}

// keep puts a freed buffer in its free list, or destroys it when the lists
// already hold as much as the pool keeps (see minIdleBytes).
func (p *pool) keep(b *Buffer) {
	if p.idle+b.size > max(p.minIdle, p.peak) {
		p.destroy(b)
		return
	}
	p.free[b.size] = append(p.free[b.size], b)
	p.idle += b.size
}

// drain destroys the buffers in the free lists.
func (p *pool) drain() {
	for k, list := range p.free {
		for _, b := range list {
			p.destroy(b)
		}
		delete(p.free, k)
	}
	p.idle = 0
}

func (p *pool) destroy(b *Buffer) {
	p.d.binds.forget(b, &p.d.batch)
	b.raw.Destroy()
	b.raw.Release()
	delete(p.all, b)
}

// release destroys every buffer the pool created, freed or not.
func (p *pool) release() {
	for b := range p.all {
		p.destroy(b)
	}
	clear(p.free)
	p.pending = p.pending[:0]
	p.idle = 0
	p.inUse = 0
}

// Write queues a copy of data into b at offset. len(data) and offset must be
// multiples of 4. The write lands before the next submitted batch.
func (d *Device) Write(b *Buffer, offset uint64, data []byte) error {
	if err := d.Err(); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	if len(data)%4 != 0 || offset%4 != 0 || offset+uint64(len(data)) > b.size {
		return fmt.Errorf("gpu: write of %d bytes at %d into a %d-byte buffer: unaligned or out of range", len(data), offset, b.size)
	}
	// A write lands before the next submission, so work already recorded
	// against this buffer must be submitted first.
	if d.batch.touched[b] {
		if err := d.Flush(); err != nil {
			return err
		}
	}
	d.counts.Uploads++
	d.counts.UploadBytes += uint64(len(data))
	return d.queue.WriteBuffer(b.raw, offset, data)
}

// Clear queues zeroing size bytes of b from offset (multiples of 4).
func (d *Device) Clear(b *Buffer, offset, size uint64) error {
	if err := d.Err(); err != nil {
		return err
	}
	if size == 0 {
		return nil
	}
	enc, err := d.batch.encoderOutsidePass(d)
	if err != nil {
		return err
	}
	d.batch.touched[b] = true
	d.counts.Copies++
	return enc.ClearBuffer(b.raw, offset, size)
}

// Copy queues a copy of size bytes from src at srcOff to dst at dstOff
// (multiples of 4).
func (d *Device) Copy(src *Buffer, srcOff uint64, dst *Buffer, dstOff, size uint64) error {
	if err := d.Err(); err != nil {
		return err
	}
	if size == 0 {
		return nil
	}
	enc, err := d.batch.encoderOutsidePass(d)
	if err != nil {
		return err
	}
	d.batch.touched[src], d.batch.touched[dst] = true, true
	d.counts.Copies++
	return enc.CopyBufferToBuffer(src.raw, srcOff, dst.raw, dstOff, size)
}

// Read submits the queued work, waits for it and returns size bytes of b
// from offset (multiples of 4).
func (d *Device) Read(b *Buffer, offset, size uint64) ([]byte, error) {
	if err := d.Err(); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	if size%4 != 0 || offset%4 != 0 || offset+size > b.size {
		return nil, fmt.Errorf("gpu: read of %d bytes at %d from a %d-byte buffer: unaligned or out of range", size, offset, b.size)
	}
	if err := d.ensureStaging(size); err != nil {
		return nil, err
	}
	if err := d.Copy(b, offset, &Buffer{raw: d.staging, size: d.stageSize}, 0, size); err != nil {
		return nil, err
	}
	if err := d.Flush(); err != nil {
		return nil, err
	}
	// mapAsync, not go-webgpu's MapAsync: see mapping.
	var m *mapping
	var merr error
	err := scoped(d.raw, "gpu: mapping staging buffer", func() {
		m, merr = mapAsync(d.staging, wgpu.MapMode_Read, 0, size)
	})
	if err == nil {
		err = merr
	}
	if err != nil {
		if m != nil {
			defer m.free()
		}
		d.dropStaging()
		return nil, err
	}
	defer m.free()
	// On failure the staging buffer is dropped: submitting a copy into a
	// buffer left mapped or pending would abort inside wgpu-native.
	if err := d.await("mapping the staging buffer", func(bool) bool { return m.finished() }); err != nil {
		d.dropStaging()
		return nil, err
	}
	status := m.status()
	if status == wgpu.BufferMapAsyncStatus_DeviceLost {
		d.markLost("mapping the staging buffer reported the device lost")
	}
	if status != wgpu.BufferMapAsyncStatus_Success {
		d.dropStaging()
		return nil, fmt.Errorf("gpu: mapping staging buffer failed: %s", status)
	}
	d.counts.Readbacks++
	d.counts.ReadbackBytes += size
	out := make([]byte, size)
	copy(out, d.staging.GetMappedRange(0, uint(size)))
	if err := d.staging.Unmap(); err != nil {
		d.dropStaging()
		return nil, fmt.Errorf("gpu: unmapping staging buffer: %w", err)
	}
	return out, d.Err()
}

// lostErr returns the device-lost error, if any, without clearing others.
func (d *Device) lostErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lost
}

// ensureStaging makes the map-read staging buffer at least size bytes.
func (d *Device) ensureStaging(size uint64) error {
	if d.staging != nil && d.stageSize >= size {
		return nil
	}
	if d.staging != nil {
		// Recorded copies into the old staging buffer must run first.
		if err := d.Flush(); err != nil {
			return err
		}
		d.dropStaging()
	}
	n := bucket(size, d.limits.MaxBufferSize)
	var raw *wgpu.Buffer
	var cerr error
	err := scoped(d.raw, "gpu: creating staging buffer", func() {
		raw, cerr = d.raw.CreateBuffer(&wgpu.BufferDescriptor{
			Usage: wgpu.BufferUsage_MapRead | wgpu.BufferUsage_CopyDst,
			Size:  n,
		})
	})
	if err = errors.Join(err, cerr); err != nil {
		if raw != nil {
			raw.Release()
		}
		return fmt.Errorf("gpu: staging buffer of %d bytes: %w", n, err)
	}
	d.staging, d.stageSize = raw, n
	return nil
}

// dropStaging destroys the staging buffer; the next Read makes a new one.
func (d *Device) dropStaging() {
	if d.staging != nil {
		d.staging.Destroy()
		d.staging.Release()
		d.staging, d.stageSize = nil, 0
	}
}

// ReleaseCached submits and waits for queued work, then releases what the
// device keeps only for reuse: the pool's freed buffers, the readback
// staging buffer and the cached bind groups. Live tensors are untouched. It returns idle device memory (as
// torch.cuda.empty_cache) and lets a leak test count what is really held.
func (d *Device) ReleaseCached() error {
	if d.closed {
		return errors.New("gpu: device is closed")
	}
	if err := d.Sync(); err != nil {
		return err
	}
	d.binds.evictAll(&d.batch)
	d.pool.drain()
	d.dropStaging()
	// Nothing is recorded after Sync, so Flush releases the evicted bind
	// groups at once; a poll lets wgpu retire what was released (the queue
	// is idle, so it does not wait).
	if err := d.Flush(); err != nil {
		return err
	}
	d.raw.Poll(false, nil)
	return nil
}
