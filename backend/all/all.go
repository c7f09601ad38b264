// Package all registers every compiled-in backend provider: import it for
// its side effect wherever devices are opened by spec (the CLI, conformance
// runs), so backend.Open and backend.Devices see them all.
package all

import (
	// The pure-Go CPU backend, always available.
	_ "github.com/ia3/ia3/backend/cpu"
	// WebGPU adapters (Vulkan, Metal, D3D12, OpenGL) as gpu:N.
	_ "github.com/ia3/ia3/backend/webgpu"
)
