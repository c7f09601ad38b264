//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// upload puts data on b as an F32 tensor of shape.
func upload(t *testing.T, b backend.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromFloat32(data, shape...)
	require.NoError(t, err)
	return x
}

// values downloads x.
func values(t *testing.T, b backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	v, err := b.ToFloat32(x)
	require.NoError(t, err)
	return v
}

// seq returns n values start, start+step, ...
func seq(n int, start, step float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = start + step*float32(i)
	}
	return out
}
