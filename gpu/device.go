//go:build cgo && !nowebgpu

package gpu

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Limits are the device limits the compute layer works within.
type Limits struct {
	MaxStorageBufferBindingSize uint64 // largest storage binding, bytes
	MaxBufferSize               uint64 // largest buffer, bytes
	MaxStorageBuffersPerStage   uint32 // storage bindings one kernel may use
	MaxWorkgroupsPerDimension   uint32 // dispatch count per axis
	MaxWorkgroupStorageSize     uint32 // workgroup shared memory, bytes
	MaxInvocationsPerWorkgroup  uint32
	MinUniformOffsetAlignment   uint32
	MinStorageOffsetAlignment   uint32
}

// ErrDeviceLost is wrapped by every error returned after the device is lost.
var ErrDeviceLost = errors.New("gpu: device lost")

// Device is an open WebGPU device with its queue, buffer pool, pipeline
// cache and the batch of work recorded but not yet submitted.
type Device struct {
	inst    *Instance
	raw     *wgpu.Device
	queue   *wgpu.Queue
	info    AdapterInfo
	limits  Limits
	errSink cgo.Handle

	mu       sync.Mutex // guards asyncErr and lost, set from callbacks
	asyncErr error
	lost     error

	pool      pool
	pipelines pipelineCache
	binds     bindCache
	batch     batch
	staging   *wgpu.Buffer
	stageSize uint64
	closed    bool
	counts    WorkCounts // work recorded since Open (Counters)
}

// Open opens adapter i (as Adapters lists it) with the adapter's own limits
// for buffer sizes, storage bindings and workgroup memory, instead of
// WebGPU's small defaults.
func (in *Instance) Open(i int) (*Device, error) {
	a, info, err := in.adapter(i)
	if err != nil {
		return nil, err
	}
	sup := a.GetLimits().Limits
	req := wgpu.DefaultLimits()
	req.MaxStorageBufferBindingSize = sup.MaxStorageBufferBindingSize
	// Some drivers (NVIDIA's Vulkan) report a maxBufferSize near 2^64, and
	// wgpu 0.17 then leaves the device at its 256 MiB default; any cap far
	// above real allocations avoids that.
	req.MaxBufferSize = min(sup.MaxBufferSize, 1<<40)
	req.MaxStorageBuffersPerShaderStage = sup.MaxStorageBuffersPerShaderStage
	req.MaxComputeWorkgroupStorageSize = sup.MaxComputeWorkgroupStorageSize
	req.MaxComputeInvocationsPerWorkgroup = sup.MaxComputeInvocationsPerWorkgroup
	req.MaxComputeWorkgroupSizeX = sup.MaxComputeWorkgroupSizeX
	req.MaxComputeWorkgroupSizeY = sup.MaxComputeWorkgroupSizeY
	req.MaxComputeWorkgroupSizeZ = sup.MaxComputeWorkgroupSizeZ
	req.MaxComputeWorkgroupsPerDimension = sup.MaxComputeWorkgroupsPerDimension

	d := &Device{inst: in, info: info}
	// The binding's DeviceLostCallback passes a Go pointer inside Go memory
	// to C, which cgo's pointer checks reject; loss is detected instead from
	// DeviceLost errors and map failures (see recordAsync and Read).
	raw, err := a.RequestDevice(&wgpu.DeviceDescriptor{
		Label:          "ia3",
		RequiredLimits: &wgpu.RequiredLimits{Limits: req},
	})
	if err != nil {
		return nil, fmt.Errorf("gpu: opening %s (%s): %w", info.Name, info.API, err)
	}
	d.raw = raw
	d.errSink = setUncapturedErrors(raw, d.recordAsync)
	d.queue = raw.GetQueue()
	got := raw.GetLimits().Limits
	d.limits = Limits{
		MaxStorageBufferBindingSize: got.MaxStorageBufferBindingSize,
		MaxBufferSize:               got.MaxBufferSize,
		MaxStorageBuffersPerStage:   got.MaxStorageBuffersPerShaderStage,
		MaxWorkgroupsPerDimension:   got.MaxComputeWorkgroupsPerDimension,
		MaxWorkgroupStorageSize:     got.MaxComputeWorkgroupStorageSize,
		MaxInvocationsPerWorkgroup:  got.MaxComputeInvocationsPerWorkgroup,
		MinUniformOffsetAlignment:   max(got.MinUniformBufferOffsetAlignment, 16),
		MinStorageOffsetAlignment:   got.MinStorageBufferOffsetAlignment,
	}
	d.pool.init(d)
	d.pipelines.init()
	d.binds.init()
	return d, nil
}

// Info describes the adapter the device was opened on.
func (d *Device) Info() AdapterInfo { return d.info }

// Limits returns the limits the device was opened with.
func (d *Device) Limits() Limits { return d.limits }

// recordAsync keeps the first error wgpu reported outside an error scope; a
// DeviceLost error marks the device lost for good.
func (d *Device) recordAsync(typ wgpu.ErrorType, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if typ == wgpu.ErrorType_DeviceLost && d.lost == nil {
		d.lost = fmt.Errorf("%w: %s", ErrDeviceLost, msg)
		return
	}
	if d.asyncErr == nil {
		d.asyncErr = fmt.Errorf("gpu: %s error: %s", typ, msg)
	}
}

// Err returns and clears the error reported asynchronously since the last
// call, or the device-lost error, which stays.
func (d *Device) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("gpu: device is closed")
	}
	if d.lost != nil {
		return d.lost
	}
	err := d.asyncErr
	d.asyncErr = nil
	return err
}

// Counts are the live WebGPU objects of the instance, from wgpu's report.
type Counts struct {
	Buffers, BindGroups, ComputePipelines, CommandBuffers uint64
}

// Live reports how many buffers, bind groups and pipelines wgpu holds in
// the hub of this device's backend, for leak tests. The instance is shared,
// so the counts include other devices of the same backend.
func (d *Device) Live() Counts {
	return hubCounts(d.inst.raw, d.info.API)
}

// Close waits for queued work, then releases every buffer, pipeline and the
// device. Buffers handed out by Alloc must not be used afterwards.
func (d *Device) Close() error {
	if d.closed {
		return nil
	}
	err := d.Sync()
	d.binds.release()
	d.pool.release()
	d.batch.release()
	d.pipelines.release()
	d.dropStaging()
	d.queue.Release()
	_ = d.idle() // let wgpu retire what the releases freed; err has the device's state
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.raw.Release()
	d.errSink.Delete()
	if errors.Is(err, ErrDeviceLost) {
		return nil
	}
	return err
}

// markLost records that the device is lost.
func (d *Device) markLost(why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lost == nil {
		d.lost = fmt.Errorf("%w: %s", ErrDeviceLost, why)
	}
}
