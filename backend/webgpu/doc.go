// Package webgpu is the GPU backend: it implements backend.Backend on any
// WebGPU adapter (Vulkan, Metal, D3D12 or OpenGL through wgpu-native, linked
// statically with cgo), with every operation a WGSL compute kernel from
// package shaders.
//
// Importing the package registers its Provider, so backend.Open accepts
// "gpu" (the best adapter) and "gpu:N" (adapter N as backend.Devices lists
// it); Open here opens one directly. Tensors stay on the device between
// operations: F32 and I32 as stored, F16 and BF16 weights packed two per
// 32-bit word and widened inside the kernels, Q8_0 and NF4 weights in
// package quant's byte layout and dequantised by the matmul kernels as they
// load them (quant.go). Work is queued and submitted in batches; errors a
// kernel or the driver reports (an id out of range, a lost device) surface
// from the next Sync or download.
//
// A tensor larger than the adapter's maxStorageBufferBindingSize (or
// maxBufferSize) is held in several buffers split by rows, so that a
// 128k- or 256k-vocabulary embedding, LM head and logits, and a 70B
// model's quantized projections (each part a standalone quantized matrix of
// its rows), run on every adapter; the operations such tensors meet in a forward pass, generation
// and a training step take them part by part, and the others refuse them
// with their sizes. BindingLimitEnv lowers the limit, for tests.
//
// MatMulKernelEnv selects the large-matmul kernel, for comparing kernels on
// a device.
package webgpu
