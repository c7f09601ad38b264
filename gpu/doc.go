// Package gpu is a thin layer over go-webgpu (wgpu-native) for compute work.
//
// It hides the parts of WebGPU a compute library must get right once:
//
//   - enumerating adapters and describing them (Instance, AdapterInfo), and
//     probing whether an adapter can actually run compute shaders;
//   - opening a device with the limits large tensors need (Device);
//   - a size-bucketed buffer pool whose freed buffers are reused only after
//     the work that used them has been submitted (Buffer);
//   - recording dispatches into one command encoder and submitting them in
//     batches, with the uniform parameters of a whole batch packed into one
//     arena buffer (Device.Dispatch, Device.Flush);
//   - reading results back through a staging buffer (Device.Read);
//   - turning WebGPU's asynchronous errors and device loss into Go errors
//     returned from the next call.
//
// wgpu-native 0.17 aborts the process when a queue submission fails
// validation, whatever error scopes are open, so this layer keeps every
// submission valid: errors are caught when work is recorded (bind groups,
// copies, encoder finish), and a buffer is destroyed only once the work that
// uses it has been submitted.
//
// A Device is used by one goroutine at a time.
package gpu
