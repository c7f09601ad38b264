//go:build cgo && !nowebgpu

package gpu

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spinShader advances each element p.iters steps of a 32-bit LCG: work whose
// length a test chooses and whose result the host can check in closed form.
const spinShader = `
struct P { iters: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@compute @workgroup_size(64)
fn spin(@builtin(global_invocation_id) id: vec3<u32>) {
    var x = data[id.x];
    for (var i = 0u; i < p.iters; i = i + 1u) {
        x = x * 1664525u + 1013904223u;
    }
    data[id.x] = x;
}
`

// lcgPower returns the map x → a·x + c (mod 2^32) of n LCG steps.
func lcgPower(n uint64) (a, c uint32) {
	a, c = 1, 0
	sa, sc := uint32(1664525), uint32(1013904223) // one step, squared as n's bits go
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			a, c = sa*a, sa*c+sc
		}
		sa, sc = sa*sa, sa*sc+sc
	}
	return a, c
}

func TestLCGPower(t *testing.T) {
	x := uint32(7)
	for range 1000 {
		x = x*1664525 + 1013904223
	}
	a, c := lcgPower(1000)
	assert.Equal(t, x, a*7+c)
}

// wgpuWaitTimeout is how long wgpu-native 0.17's waiting poll
// (wgpuDevicePoll with wait set) blocks before it gives up and, wrongly,
// retires every submission as finished.
const wgpuWaitTimeout = 5 * time.Second

// TestWaitOutlastsWgpuTimeout queues about 1.2× wgpuWaitTimeout of work and
// reads the result. wgpu's waiting poll gave up after 5 s, reported the queue
// empty and freed what the running work still used: the read returned stale
// data or lavapipe crashed with SIGSEGV (issue 11, crash 1: a GPT-2 step of
// ≥ 6144 tokens on lavapipe is one such batch). Sync and Read must wait for
// the work itself however long it takes.
func TestWaitOutlastsWgpuTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("queues over 5 s of device work")
	}
	d := openDevice(t)
	p, err := d.Pipeline("spin.wgsl", "spin", func() (string, error) { return spinShader, nil }, true, 1)
	require.NoError(t, err)
	// Size the work by the time one dispatch takes on this device, growing
	// its workgroup count (llvmpipe ends any loop after 65535 iterations,
	// so the loop stays short); the clock only sizes the work, nothing
	// asserts a duration.
	const iters = 1 << 15
	scratch, err := d.Alloc(4 * 64 * 65535)
	require.NoError(t, err)
	defer d.Free(scratch)
	require.NoError(t, d.Dispatch(p, words(1), [3]uint32{1, 1, 1}, []Binding{{Buf: scratch}}))
	require.NoError(t, d.Sync()) // the driver may compile on first use
	groups, took := uint32(1), time.Duration(0)
	for ; groups < 65535; groups = min(65535, 4*groups) {
		start := time.Now()
		require.NoError(t, d.Dispatch(p, words(iters), [3]uint32{groups, 1, 1}, []Binding{{Buf: scratch}}))
		require.NoError(t, d.Sync())
		if took = time.Since(start); took > 50*time.Millisecond {
			break
		}
	}
	dispatches := int(wgpuWaitTimeout*6/5/max(took, time.Millisecond)) + 1
	n := 64 * int(groups)
	t.Logf("%d dispatches of %d workgroups, %v each", dispatches, groups, took)
	buf, err := d.Alloc(4 * uint64(n))
	require.NoError(t, err)
	defer d.Free(buf)
	init := make([]uint32, n)
	for i := range init {
		init[i] = uint32(i)
	}
	require.NoError(t, d.Write(buf, 0, words(init...)))
	for range dispatches {
		require.NoError(t, d.Dispatch(p, words(iters), [3]uint32{groups, 1, 1}, []Binding{{Buf: buf}}))
	}

	got, err := d.Read(buf, 0, 4*uint64(n))
	require.NoError(t, err)
	total := uint64(dispatches) * iters
	a, c := lcgPower(total)
	for i := range n {
		require.Equal(t, a*uint32(i)+c, binary.LittleEndian.Uint32(got[4*i:]), "element %d of %d after %d steps", i, n, total)
	}
}
