package gpu

import "errors"

// ErrNotBuilt is the error every WebGPU entry point returns in a binary
// built without the WebGPU layer (see Built).
var ErrNotBuilt = errors.New("WebGPU not built: this binary was built without cgo (CGO_ENABLED=0) or with -tags nowebgpu")
