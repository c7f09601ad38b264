//go:build cgo && !nowebgpu

package webgpu_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

func TestDevicesListed(t *testing.T) {
	webgputest.Open(t) // skips without an adapter
	devs, err := webgpu.Provider{}.Devices(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, devs)
	for i, d := range devs {
		assert.Equal(t, "gpu:"+string(rune('0'+i)), d.Spec)
		assert.NotEmpty(t, d.Name)
		assert.NotEmpty(t, d.API)
		assert.NotZero(t, d.Limits["maxStorageBufferBindingSize"])
		if !d.Compute {
			assert.NotEmpty(t, d.Reason, "%s cannot compute but says not why", d.Spec)
		}
	}
}

func TestOpenUnknownDevice(t *testing.T) {
	_, err := webgpu.Open(context.Background(), "gpu:99")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gpu:99")
	_, err = webgpu.Open(context.Background(), "gpu:x")
	require.Error(t, err)
}

// otherTensor is a tensor of no backend.
type otherTensor struct{}

func (otherTensor) Shape() []int         { return []int{1} }
func (otherTensor) DType() backend.DType { return backend.F32 }
func (otherTensor) Len() int             { return 1 }

func TestErrors(t *testing.T) {
	b := webgputest.OpenWebGPU(t)
	x := upload(t, b, []float32{1}, 1)

	_, err := b.Add(x, otherTensor{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another backend")

	limit := b.Info().Limits["maxStorageBufferBindingSize"]
	before := b.Stats()
	_, err = b.Zeros(int(limit/4) + 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "maxStorageBufferBindingSize")
	assert.Equal(t, before.Buffers, b.Stats().Buffers, "a refused Zeros must not allocate")

	y := upload(t, b, []float32{1}, 1)
	b.Free(y)
	b.Free(y) // double Free is a no-op
	_, err = b.ToFloat32(y)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after Free")

	v, err := b.View(x, 1, 1)
	require.NoError(t, err)
	b.Free(v) // freeing a view is a no-op
	assert.Equal(t, []float32{1}, values(t, b, x))
	require.NoError(t, b.Sync())
}

// TestNoLeaks runs thousands of operations on every adapter, freeing their
// results, and checks that the live buffer, bind group and pipeline counts
// are the same before and after once the caches are released (the pool's
// freed buffers and the bind groups over them grow with the combinations of
// buffers the pool hands out, up to their bounds: ReleaseCached empties
// them, so what is left is what the backend really holds).
func TestNoLeaks(t *testing.T) {
	webgputest.Open(t) // fails under IA3_REQUIRE_GPU=1, skips otherwise, without an adapter
	devs, err := webgpu.Provider{}.Devices(context.Background())
	require.NoError(t, err)
	for _, d := range devs {
		if !d.Compute {
			continue
		}
		t.Run(d.Spec+" "+d.API, func(t *testing.T) {
			b, err := webgpu.Open(context.Background(), d.Spec)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, b.Close()) })
			checkNoLeaks(t, b)
		})
	}
}

func checkNoLeaks(t *testing.T, b *webgpu.Backend) {
	x := upload(t, b, seq(96, -1, 0.02), 8, 12)
	w := upload(t, b, seq(60, 0.5, -0.01), 5, 12)
	round := func(i int) {
		y, err := b.Add(x, x)
		require.NoError(t, err)
		if i%10 == 0 {
			// The matmul kernels are slow on software adapters; a few
			// suffice to cover their bind groups and scratch buffers.
			b.Free(y)
			y, err = b.Linear(x, w, backend.LinearOptions{})
			require.NoError(t, err)
		}
		z, err := b.Activation(backend.GELUErf, y)
		require.NoError(t, err)
		s, err := b.SumRows(z)
		require.NoError(t, err)
		c, err := b.Concat(0, y, z)
		require.NoError(t, err)
		for _, tt := range []backend.Tensor{y, z, s, c} {
			b.Free(tt)
		}
	}
	for i := range 50 {
		round(i)
	}
	require.NoError(t, b.ReleaseCached())
	before := b.Stats()
	inUse := b.AllocatedBytes()
	for i := range 1000 {
		round(i)
		if i%250 == 0 {
			_, err := b.ToFloat32(x)
			require.NoError(t, err)
		}
	}
	require.NoError(t, b.ReleaseCached())
	after := b.Stats()
	assert.Equal(t, before.Buffers, after.Buffers, "live buffers")
	assert.Equal(t, before.BindGroups, after.BindGroups, "live bind groups")
	assert.Equal(t, before.ComputePipelines, after.ComputePipelines, "live pipelines")
	assert.Equal(t, inUse, b.AllocatedBytes(), "bytes held by live tensors")
	// x and w are alive: their bytes at least are counted.
	assert.GreaterOrEqual(t, inUse, uint64(4*(96+60)))
}

// TestEmptyTensors runs operations on tensors with a zero dimension: they
// give empty (or zero) results without dispatching anything invalid.
func TestEmptyTensors(t *testing.T) {
	b := webgputest.Open(t)
	e, err := b.Zeros(0, 3)
	require.NoError(t, err)
	sum, err := b.Add(e, upload(t, b, []float32{1, 2, 3}, 3))
	require.NoError(t, err)
	assert.Equal(t, []int{0, 3}, sum.Shape())
	assert.Empty(t, values(t, b, sum))

	rows, err := b.SumRows(e)
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 0, 0}, values(t, b, rows))

	sq, err := b.SumSquares(e)
	require.NoError(t, err)
	assert.Equal(t, []float32{0}, values(t, b, sq))

	p, err := b.Permute(e, 1, 0)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 0}, p.Shape())

	w := upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	y, err := b.Linear(e, w, backend.LinearOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, y.Shape())

	// K = 0: the product of [2, 0] and [0, 2] is zeros.
	a0, err := b.Zeros(2, 0)
	require.NoError(t, err)
	b0, err := b.Zeros(0, 2)
	require.NoError(t, err)
	m, err := b.MatMul(a0, b0, backend.MatMulOptions{})
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 0, 0, 0}, values(t, b, m))

	ok, err := b.AllFinite(e)
	require.NoError(t, err)
	assert.True(t, ok)
	require.NoError(t, b.Sync())
}

func TestShadersCompile(t *testing.T) {
	b := webgputest.OpenWebGPU(t)
	require.NoError(t, b.CheckShaders())
}
