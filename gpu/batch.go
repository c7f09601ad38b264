//go:build cgo && !nowebgpu

package gpu

import (
	"fmt"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Batch sizing: a batch is submitted when it holds this many dispatches or
// its parameters fill the arena.
const (
	maxBatchDispatches = 512
	arenaSize          = 256 << 10
)

// batch is the work recorded since the last submission: one command encoder,
// the open compute pass, the bind groups it uses, and the uniform parameters
// of every dispatch packed into one arena, written just before submitting.
type batch struct {
	enc        *wgpu.CommandEncoder
	pass       *wgpu.ComputePassEncoder
	groups     []*wgpu.BindGroup
	temps      []*Buffer // scratch copies freed after submission
	params     []byte
	arena      *wgpu.Buffer
	dispatches int
	touched    map[*Buffer]bool
}

// pending reports whether anything is recorded.
func (b *batch) pending() bool { return b.enc != nil }

// encoder returns the batch's command encoder, creating it if needed.
func (b *batch) encoder(d *Device) (*wgpu.CommandEncoder, error) {
	if b.enc != nil {
		return b.enc, nil
	}
	enc, err := d.raw.CreateCommandEncoder(nil)
	if err != nil {
		return nil, fmt.Errorf("gpu: creating command encoder: %w", err)
	}
	b.enc = enc
	if b.touched == nil {
		b.touched = map[*Buffer]bool{}
	}
	return enc, nil
}

// encoderOutsidePass ends the open compute pass (copies and clears cannot be
// recorded inside one) and returns the encoder.
func (b *batch) encoderOutsidePass(d *Device) (*wgpu.CommandEncoder, error) {
	enc, err := b.encoder(d)
	if err != nil {
		return nil, err
	}
	return enc, b.endPass()
}

func (b *batch) endPass() error {
	if b.pass == nil {
		return nil
	}
	err := b.pass.End()
	b.pass.Release()
	b.pass = nil
	if err != nil {
		return fmt.Errorf("gpu: ending compute pass: %w", err)
	}
	return nil
}

// Binding is a range of a buffer bound to a kernel: Size bytes from Offset
// (Size 0 means the whole buffer).
type Binding struct {
	Buf          *Buffer
	Offset, Size uint64
}

// Dispatch records one dispatch of p with params (nil, or the bytes of the
// uniform struct at binding 0) and bufs at bindings 1, 2, .... A buffer
// bound read-write may not also be bound elsewhere in the same dispatch
// (WebGPU forbids the aliasing); Dispatch binds a scratch copy of the other
// occurrences instead.
func (d *Device) Dispatch(p *Pipeline, params []byte, groups [3]uint32, bufs []Binding) error {
	if err := d.Err(); err != nil {
		return err
	}
	if len(bufs) != len(p.access) || (params != nil) != p.hasParams {
		return fmt.Errorf("gpu: %s dispatched with %d buffers (params %v), built for %d (params %v)",
			p.name, len(bufs), params != nil, len(p.access), p.hasParams)
	}
	for i, g := range groups {
		if g > d.limits.MaxWorkgroupsPerDimension {
			return fmt.Errorf("gpu: %s: %d workgroups along axis %d exceed the device limit %d", p.name, g, i, d.limits.MaxWorkgroupsPerDimension)
		}
	}
	if groups[0] == 0 || groups[1] == 0 || groups[2] == 0 {
		return nil
	}
	bufs, err := d.unalias(p, bufs)
	if err != nil {
		return err
	}
	b := &d.batch
	align := uint64(d.limits.MinUniformOffsetAlignment)
	off := (uint64(len(b.params)) + align - 1) / align * align
	if params != nil && off+(uint64(len(params))+15)&^15 > arenaSize {
		if err := d.Flush(); err != nil {
			return err
		}
		off = 0
	}
	if _, err := b.encoder(d); err != nil {
		return err
	}
	if b.arena == nil {
		arena, err := d.raw.CreateBuffer(&wgpu.BufferDescriptor{
			Label: "params arena", Usage: wgpu.BufferUsage_Uniform | wgpu.BufferUsage_CopyDst, Size: arenaSize,
		})
		if err != nil {
			return fmt.Errorf("gpu: creating parameter arena: %w", err)
		}
		b.arena = arena
	}
	var entries []wgpu.BindGroupEntry
	var dyn []uint32
	key := bindKey{p: p, n: len(bufs)}
	if params != nil {
		size := (uint64(len(params)) + 15) &^ 15
		b.params = append(b.params, make([]byte, off+size-uint64(len(b.params)))...)
		copy(b.params[off:], params)
		entries = append(entries, wgpu.BindGroupEntry{Binding: 0, Buffer: b.arena, Offset: 0, Size: size})
		dyn = []uint32{uint32(off)}
		key.psize = size
	}
	for i, bb := range bufs {
		size := bb.Size
		if size == 0 {
			size = bb.Buf.size - bb.Offset
		}
		size = min((size+15)&^15, bb.Buf.size-bb.Offset, d.limits.MaxStorageBufferBindingSize&^3)
		entries = append(entries, wgpu.BindGroupEntry{Binding: uint32(i + 1), Buffer: bb.Buf.raw, Offset: bb.Offset, Size: size})
		b.touched[bb.Buf] = true
		if i < maxCachedBindings {
			key.ranges[i] = bindRange{buf: bb.Buf, offset: bb.Offset, size: size}
		}
	}
	bg, err := d.bindGroup(key, len(bufs) <= maxCachedBindings, entries)
	if err != nil {
		return err
	}
	if b.pass == nil {
		b.pass = b.enc.BeginComputePass(nil)
	}
	b.pass.SetPipeline(p.raw)
	b.pass.SetBindGroup(0, bg, dyn)
	b.pass.DispatchWorkgroups(groups[0], groups[1], groups[2])
	b.dispatches++
	d.counts.Dispatches++
	if b.dispatches >= maxBatchDispatches {
		return d.Flush()
	}
	return nil
}

// unalias replaces every binding that shares a buffer with a read-write
// binding by a scratch copy.
func (d *Device) unalias(p *Pipeline, bufs []Binding) ([]Binding, error) {
	var out []Binding
	for i, bi := range bufs {
		for j, bj := range bufs {
			if i == j || bi.Buf != bj.Buf || p.access[j] != ReadWrite || p.access[i] == ReadWrite {
				continue
			}
			tmp, err := d.Alloc(bi.Buf.size)
			if err != nil {
				return nil, fmt.Errorf("gpu: %s: scratch copy of an aliased binding: %w", p.name, err)
			}
			if err := d.Copy(bi.Buf, 0, tmp, 0, bi.Buf.size); err != nil {
				return nil, err
			}
			d.batch.temps = append(d.batch.temps, tmp)
			if out == nil {
				out = append([]Binding(nil), bufs...)
			}
			out[i].Buf = tmp
			break
		}
	}
	if out == nil {
		return bufs, nil
	}
	return out, nil
}

// Flush submits the recorded work without waiting for it.
func (d *Device) Flush() error {
	b := &d.batch
	if b.enc == nil {
		// Nothing recorded: evicted bind groups can go now.
		for _, g := range b.groups {
			g.Release()
		}
		b.groups = b.groups[:0]
		d.pool.recycle()
		return nil
	}
	err := b.endPass()
	if len(b.params) > 0 && err == nil {
		err = d.queue.WriteBuffer(b.arena, 0, b.params)
	}
	var cmd *wgpu.CommandBuffer
	if err == nil {
		cmd, err = b.enc.Finish(nil)
	}
	if err == nil {
		err = scoped(d.raw, "gpu: submitting work", func() { d.queue.Submit(cmd) })
		d.counts.Submits++
		cmd.Release()
		// Let wgpu retire finished submissions (and free what they held)
		// without waiting, so long runs without a readback do not pile up.
		d.raw.Poll(false, nil)
	}
	b.enc.Release()
	b.enc = nil
	for _, g := range b.groups {
		g.Release()
	}
	b.groups = b.groups[:0]
	for _, t := range b.temps {
		d.Free(t)
	}
	b.temps = b.temps[:0]
	b.params = b.params[:0]
	b.dispatches = 0
	clear(b.touched)
	d.pool.recycle()
	if err != nil {
		return fmt.Errorf("gpu: submitting batch: %w", err)
	}
	return d.Err()
}

// Sync submits the recorded work, waits until the device has finished it and
// returns any error reported since the last call.
func (d *Device) Sync() error {
	if err := d.Flush(); err != nil {
		return err
	}
	if err := d.idle(); err != nil {
		return err
	}
	return d.Err()
}

func (b *batch) release() {
	if b.pass != nil {
		b.pass.Release()
		b.pass = nil
	}
	if b.enc != nil {
		b.enc.Release()
		b.enc = nil
	}
	for _, g := range b.groups {
		g.Release()
	}
	b.groups = nil
	if b.arena != nil {
		b.arena.Destroy()
		b.arena.Release()
		b.arena = nil
	}
}
