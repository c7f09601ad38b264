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
		{matmulAuto, "DiscreteGPU", matmulTile128},
		{matmulAuto, "IntegratedGPU", matmulTile128},
		{matmulAuto, "Unknown", matmulTile128},
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
		k    matmulKernel
		m, n int
		want bool
	}{
		{matmulTile128, 128, 128, true},
		{matmulTile128, 4096, 129, true},
		{matmulTile128, 127, 4096, false},
		{matmulTile128, 4096, 127, false},
		{matmulTile64, 4096, 4096, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.k.useLarge(tc.m, tc.n), "%v %d×%d", tc.k, tc.m, tc.n)
	}
}
