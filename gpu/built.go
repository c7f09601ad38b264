//go:build cgo && !nowebgpu

package gpu

// Built reports whether this binary links wgpu-native: true when built with
// cgo and without the nowebgpu tag.
const Built = true
