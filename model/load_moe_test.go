package model

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpertSliceCut checks the transposed cut against a plain loop for
// each element size, on shapes that are no multiple of the tile and on
// one large enough to be split among goroutines: weight element (c, r) is
// entry element off + r·stride + col + c.
func TestExpertSliceCut(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		rows, cols, col, stride, off int
	}{
		{"small", 5, 7, 3, 12, 0},
		{"odd tiles", 45, 70, 70, 150, 150 * 45},
		{"split", 700, 600, 600, 1200, 1200 * 700},
	} {
		for _, size := range []int{2, 4, 8} {
			n := tc.off + tc.rows*tc.stride
			raw := make([]byte, n*size)
			for i := range raw {
				raw[i] = byte(i*7 + i/size)
			}
			s := expertSlice{off: tc.off, rows: tc.rows, cols: tc.cols, col: tc.col, stride: tc.stride}
			got := s.cut(raw, size)
			require.Len(t, got, tc.rows*tc.cols*size)
			for c := 0; c < tc.cols; c++ {
				for r := 0; r < tc.rows; r++ {
					src := (tc.off + r*tc.stride + tc.col + c) * size
					dst := (c*tc.rows + r) * size
					require.Equal(t, raw[src:src+size], got[dst:dst+size], "%s size %d: (%d, %d)", tc.name, size, c, r)
				}
			}
		}
	}
}

// BenchmarkExpertSliceCut cuts one expert's up projection of a
// Scout-shaped BF16 layer scaled down 4× per side.
func BenchmarkExpertSliceCut(b *testing.B) {
	const rows, stride, cols = 1280, 4096, 2048
	raw := make([]byte, rows*stride*2)
	s := expertSlice{rows: rows, cols: cols, col: cols, stride: stride}
	b.SetBytes(int64(rows * cols * 2))
	for i := 0; i < b.N; i++ {
		s.cut(raw, 2)
	}
}
