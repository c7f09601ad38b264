//go:build !amd64 && !arm64

package cpu

// simdArchs lists no assembly kernel: this architecture runs the pure-Go
// kernel.
func simdArchs() []gemmArch { return nil }
