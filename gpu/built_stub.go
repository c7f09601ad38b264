//go:build !cgo || nowebgpu

package gpu

// Built reports whether this binary links wgpu-native: false here, since
// it was built without cgo (CGO_ENABLED=0) or with -tags nowebgpu, so the
// package holds only this and ErrNotBuilt.
const Built = false
