//go:build cgo && !nowebgpu

package webgpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMatMulKernel(t *testing.T) {
	tests := []struct {
		in   string
		want matmulKernel
	}{
		{"", matmulAuto},
		{"Auto", matmulAuto},
		{"tile128", matmulTile128},
		{" TILE64 ", matmulTile64},
		{"tile64", matmulTile64},
	}
	for _, tc := range tests {
		got, err := parseMatMulKernel(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	_, err := parseMatMulKernel("tile32")
	require.EqualError(t, err, `webgpu: IA3_WEBGPU_MATMUL="tile32": want tile64, tile128 or auto`)
	assert.Equal(t, "tile64", matmulTile64.String())
	assert.Equal(t, "tile128", matmulTile128.String())
	assert.Equal(t, "auto", matmulAuto.String())
}

func TestMatMulKernelResolve(t *testing.T) {
	tests := []struct {
		k       matmulKernel
		adapter string
		want    matmulKernel
	}{
		{matmulAuto, "DiscreteGPU", matmulAutoLarge},
		{matmulAuto, "IntegratedGPU", matmulAutoLarge},
		{matmulAuto, "Unknown", matmulAutoLarge},
		{matmulAuto, "CPU", matmulTile64},
		{matmulTile128, "CPU", matmulTile128},
		{matmulTile64, "DiscreteGPU", matmulTile64},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.k.resolve(tc.adapter), "%v on %s", tc.k, tc.adapter)
	}
}

func TestMatMulKernelUseLarge(t *testing.T) {
	tests := []struct {
		k           matmulKernel
		batch, m, n int
		want        bool
	}{
		{matmulTile128, 1, 128, 128, true},
		{matmulTile128, 1, 4096, 129, true},
		{matmulTile128, 1, 127, 4096, false},
		{matmulTile128, 1, 4096, 127, false},
		{matmulTile64, 1, 4096, 4096, false},
		// Auto on a GPU: 2048→256 projections give 32 tiles (64×64 wins on
		// an H100), 2048→2048 give 256, GPT-2's 4096→768 give 192.
		{matmulAutoLarge, 1, 2048, 256, false},
		{matmulAutoLarge, 1, 2048, 2048, true},
		{matmulAutoLarge, 1, 4096, 768, true},
		{matmulAutoLarge, 96, 512, 512, true}, // attention scores: 16 tiles × 96 heads
		{matmulAutoLarge, 1, 127, 4096, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.k.useLarge(tc.batch, tc.m, tc.n), "%v %d×%d×%d", tc.k, tc.batch, tc.m, tc.n)
	}
}
