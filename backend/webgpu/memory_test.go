//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestRoundTrip(t *testing.T) {
	b := webgputest.Open(t)
	x, err := b.FromFloat32([]float32{1, 2, 3, -4.5, 5}, 5)
	require.NoError(t, err)
	got, err := b.ToFloat32(x)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3, -4.5, 5}, got)

	ids, err := b.FromInt32([]int32{7, -1, 3}, 3)
	require.NoError(t, err)
	gi, err := b.ToInt32(ids)
	require.NoError(t, err)
	assert.Equal(t, []int32{7, -1, 3}, gi)

	// F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; BF16 1.0 = 0x3f80.
	h, err := b.FromBytes(backend.F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38}, 3)
	require.NoError(t, err)
	gh, err := b.ToFloat32(h)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, -2, 0.5}, gh)
	wide, err := b.Copy(h)
	require.NoError(t, err)
	assert.Equal(t, backend.F32, wide.DType())
	gw, err := b.ToFloat32(wide)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, -2, 0.5}, gw)

	bf, err := b.FromBytes(backend.BF16, []byte{0x80, 0x3f, 0x40, 0xc0, 0x00, 0x00}, 3)
	require.NoError(t, err)
	wb, err := b.Copy(bf)
	require.NoError(t, err)
	gb, err := b.ToFloat32(wb)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, -3, 0}, gb)

	z, err := b.Zeros(2, 3)
	require.NoError(t, err)
	gz, err := b.ToFloat32(z)
	require.NoError(t, err)
	assert.Equal(t, make([]float32, 6), gz)
}
