package model

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// TestGenerateOnWebGPU runs cached, left-padded greedy generation on a
// WebGPU adapter: every row must equal repeated full forward passes of
// that row alone on the same device, and the tokens the CPU backend
// generates.
func TestGenerateOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	prompts := [][]int32{{17, 42, 99}, {5, 6, 7, 8, 9, 10}}
	const n = 5
	for _, c := range generativeCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), gpu)
			require.NoError(t, err)
			t.Cleanup(m.Free)
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			onCPU, err := loadCase(t, c).Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			for r, p := range prompts {
				assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d against full forwards", r)
				assert.Equal(t, onCPU[r], got[r], "row %d against the CPU backend", r)
			}
		})
	}
}
