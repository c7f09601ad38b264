// Package all registers every compiled-in backend provider: import it for
// its side effect in a program (the CLI, a test) that opens devices by spec,
// so backend.Open and backend.Devices see them all. Library packages do not
// import it: the program chooses its devices, as it chooses database/sql
// drivers.
//
// In a pure-Go build (CGO_ENABLED=0 or -tags nowebgpu) the WebGPU provider
// is a stub that lists one device that cannot compute, saying why.
package all

import (
	// The pure-Go CPU backend, always available.
	_ "github.com/ia3/ia3/backend/cpu"
	// WebGPU adapters (Vulkan, Metal, D3D12, OpenGL) as gpu:N.
	_ "github.com/ia3/ia3/backend/webgpu"
)
