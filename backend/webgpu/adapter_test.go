//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestScaleRowsCols(t *testing.T) {
	b := webgputest.Open(t)
	// w = [[1, 2, 3], [4, 5, 6]] as F32, F16 and BF16 (all exact).
	wF32 := upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	wF16, err := b.FromBytes(backend.F16, []byte{0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44, 0x00, 0x45, 0x00, 0x46}, 2, 3)
	require.NoError(t, err)
	wBF16, err := b.FromBytes(backend.BF16, []byte{0x80, 0x3f, 0x00, 0x40, 0x40, 0x40, 0x80, 0x40, 0xa0, 0x40, 0xc0, 0x40}, 2, 3)
	require.NoError(t, err)
	rows := upload(t, b, []float32{2, -1}, 2)
	cols := upload(t, b, []float32{1, 0.5, 4}, 3)
	for name, w := range map[string]backend.Tensor{"F32": wF32, "F16": wF16, "BF16": wBF16} {
		t.Run(name, func(t *testing.T) {
			r, err := b.ScaleRows(w, rows, false)
			require.NoError(t, err)
			assert.Equal(t, []float32{2, 4, 6, -4, -5, -6}, values(t, b, r))
			c, err := b.ScaleCols(w, cols, false)
			require.NoError(t, err)
			assert.Equal(t, []float32{1, 1, 12, 4, 2.5, 24}, values(t, b, c))
			ri, err := b.ScaleRows(w, rows, true)
			require.NoError(t, err)
			got := values(t, b, ri)
			for i, want := range []float64{1 / (2 + 1e-8), 2 / (2 + 1e-8), 3 / (2 + 1e-8), 4 / (-1 + 1e-8), 5 / (-1 + 1e-8), 6 / (-1 + 1e-8)} {
				assert.InDelta(t, want, got[i], 1e-6)
			}
			ci, err := b.ScaleCols(w, cols, true)
			require.NoError(t, err)
			assert.InDeltaSlice(t, []float32{1, 4, 0.75, 4, 10, 1.5}, values(t, b, ci), 1e-6)
		})
	}
}
