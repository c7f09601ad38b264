//go:build cgo && !nowebgpu

package webgpu_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// TestCounters checks that the work counters count exactly what a known
// sequence of operations records: each Add one dispatch, one submit per
// Sync that has work, the uploads' and the readback's bytes, and an empty
// tensor's Add nothing at all.
func TestCounters(t *testing.T) {
	b := webgputest.OpenWebGPU(t)
	require.NoError(t, b.Sync())
	start := b.Counters()
	x := upload(t, b, seq(12, 0, 1), 3, 4)
	y := upload(t, b, seq(4, 1, 0), 4)
	uploaded := b.Counters().Sub(start)
	assert.Equal(t, backend.WorkCounts{Uploads: 2, UploadBytes: 4 * (12 + 4)}, uploaded, "two uploads")

	tests := []struct {
		name string
		adds int
	}{{"one add", 1}, {"seven adds", 7}, {"a hundred adds", 100}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.Counters()
			z := x
			var made []backend.Tensor
			for range tt.adds {
				var err error
				z, err = b.Add(z, y)
				require.NoError(t, err)
				made = append(made, z)
			}
			require.NoError(t, b.Sync())
			got := b.Counters().Sub(before)
			assert.Equal(t, backend.WorkCounts{Dispatches: uint64(tt.adds), Submits: 1}, got)

			before = b.Counters()
			v := values(t, b, z)
			assert.Equal(t, float32(11+tt.adds), v[11], "x[11] + adds·1")
			got = b.Counters().Sub(before)
			// The readback copies into the staging buffer and submits that
			// copy; nothing is dispatched.
			assert.Equal(t, backend.WorkCounts{Submits: 1, Readbacks: 1, ReadbackBytes: 48, Copies: 1}, got)
			for _, m := range made {
				b.Free(m)
			}
		})
	}

	t.Run("empty tensors dispatch nothing", func(t *testing.T) {
		e, err := b.Zeros(0, 4)
		require.NoError(t, err)
		defer b.Free(e)
		require.NoError(t, b.Sync())
		before := b.Counters()
		s, err := b.Add(e, y)
		require.NoError(t, err)
		b.Free(s)
		require.NoError(t, b.Sync())
		assert.Equal(t, backend.WorkCounts{}, b.Counters().Sub(before))
	})
}

// TestPeakBytes checks that the pool's peak counts a tensor freed before
// anyone sampled the allocated bytes, and that ResetPeak starts over.
func TestPeakBytes(t *testing.T) {
	b := webgputest.OpenWebGPU(t)
	b.ResetPeak()
	base := b.AllocatedBytes()
	x, err := b.Zeros(1024) // 4096 bytes, a bucket of its own
	require.NoError(t, err)
	b.Free(x)
	assert.Equal(t, base, b.AllocatedBytes())
	assert.Equal(t, base+4096, b.PeakBytes())
	b.ResetPeak()
	assert.Equal(t, base, b.PeakBytes())
}
