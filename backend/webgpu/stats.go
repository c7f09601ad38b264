package webgpu

import "github.com/ia3/ia3/gpu"

// Stats reports the WebGPU objects alive on the backend's instance (buffers,
// bind groups, pipelines), as wgpu counts them: a steady workload must keep
// them flat. Leak tests and diagnostics use it.
func (b *Backend) Stats() gpu.Counts { return b.dev.Live() }
