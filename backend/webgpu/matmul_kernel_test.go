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
		{"", matmulTile128},
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
	require.EqualError(t, err, `webgpu: IA3_WEBGPU_MATMUL="tile32": want tile64 or tile128`)
	assert.Equal(t, "tile64", matmulTile64.String())
	assert.Equal(t, "tile128", matmulTile128.String())
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
