//go:build cgo && !nowebgpu

package webgpu_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// maxGroups is WebGPU's default maxComputeWorkgroupsPerDimension, what
// lavapipe and most drivers report.
const maxGroups = 65535

// TestGridFoldsOverY runs one kernel of each grid shape with more
// workgroups than one dispatch axis allows: element-wise kernels (256
// invocations a workgroup, odd lengths take the scalar entry) and the
// kernels with one workgroup per row (softmax, cross-entropy; the norms
// have their own test), and a batched matmul of thin products. Their grids fold the excess over y, and each shader
// must rebuild the flat index from both axes.
func TestGridFoldsOverY(t *testing.T) {
	b := webgputest.OpenWebGPU(t)
	require.LessOrEqual(t, b.Info().Limits["maxComputeWorkgroupsPerDimension"], uint64(maxGroups),
		"the shapes below exceed one axis only where the limit is 65535")

	t.Run("add", func(t *testing.T) {
		n := maxGroups*256 + 3 // 65536 workgroups of 256, odd: the scalar entry
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i % 1000)
		}
		a := upload(t, b, x, n)
		y, err := b.Add(a, a)
		require.NoError(t, err)
		got := values(t, b, y)
		for i := range got {
			if got[i] != 2*x[i] {
				require.Equal(t, 2*x[i], got[i], "element %d of %d", i, n)
			}
		}
		b.Free(a)
		b.Free(y)
	})

	t.Run("matmul", func(t *testing.T) {
		// Many tiny products go to the one-output-per-thread kernel, whose
		// grid folds (the tiled kernels refused them: their batch axis
		// cannot fold, and was checked whatever the kernel).
		const batch = maxGroups + 2
		x := make([]float32, 2*batch)
		for i := range x {
			x[i] = float32(i%5) - 2
		}
		a := upload(t, b, x, batch, 1, 2)
		y, err := b.MatMul(a, a, backend.MatMulOptions{TransB: true}) // [batch, 1, 1]: each row's squared norm
		require.NoError(t, err)
		got := values(t, b, y)
		for i := range batch {
			require.Equal(t, x[2*i]*x[2*i]+x[2*i+1]*x[2*i+1], got[i], "batch %d of %d", i, batch)
		}
	})

	const rows = maxGroups + 2
	logits := make([]float32, 2*rows)
	for r := range rows {
		logits[2*r], logits[2*r+1] = 0, float32(r%7)-3
	}
	t.Run("softmax", func(t *testing.T) {
		s := upload(t, b, logits, 1, 1, rows, 2)
		y, err := b.Softmax(s, backend.SoftmaxOptions{})
		require.NoError(t, err)
		got := values(t, b, y)
		for r := range rows {
			p1 := 1 / (1 + math.Exp(-float64(logits[2*r+1])))
			require.InDelta(t, p1, got[2*r+1], 1e-6, "row %d of %d", r, rows)
			require.InDelta(t, 1-p1, got[2*r], 1e-6, "row %d of %d", r, rows)
		}
	})
	t.Run("cross_entropy", func(t *testing.T) {
		ids := make([]byte, 4*rows)
		var want float64
		for r := range rows {
			label := r % 2
			binary.LittleEndian.PutUint32(ids[4*r:], uint32(label))
			z := float64(logits[2*r+1]) // log-sum-exp of (0, z) minus the label's logit
			lse := math.Max(0, z) + math.Log1p(math.Exp(-math.Abs(z)))
			want += lse - float64(logits[2*r+label])
		}
		want /= rows
		labels, err := b.FromBytes(backend.I32, ids, rows)
		require.NoError(t, err)
		loss, dlogits, err := b.CrossEntropy(upload(t, b, logits, rows, 2), labels, -100)
		require.NoError(t, err)
		require.InDelta(t, want, values(t, b, loss)[0], 1e-4*want)
		g := values(t, b, dlogits)
		for _, r := range []int{0, 1, maxGroups, rows - 1} { // rows past the first axis
			p1 := 1 / (1 + math.Exp(-float64(logits[2*r+1])))
			require.InDelta(t, (p1-float64(r%2))/rows, g[2*r+1], 1e-9, "row %d", r)
		}
	})
}
