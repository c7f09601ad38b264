//go:build cgo && !nowebgpu

package gpu

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucket(t *testing.T) {
	tests := []struct{ n, limit, want uint64 }{
		{0, 1 << 30, 16},
		{1, 1 << 30, 16},
		{17, 1 << 30, 32},
		{256, 1 << 30, 256},
		{257, 1 << 30, 320},   // 256 < n ≤ 512: steps of 64
		{1000, 1 << 30, 1024}, // 512 < n ≤ 1024: steps of 128
		{1025, 1 << 30, 1280},
		{1 << 20, 1 << 30, 1 << 20},
		{(1 << 20) + 1, 1 << 30, 1<<20 + 1<<18},
		{1000, 1000, 1008}, // over the limit after rounding: exact size
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, bucket(tc.n, tc.limit), "bucket(%d, %d)", tc.n, tc.limit)
	}
}

func TestParseBindings(t *testing.T) {
	got, err := parseBindings(`
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage,read_write> out_u: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage> y: array<f32>;
`)
	require.NoError(t, err)
	assert.Equal(t, map[int]Access{0: Uniform, 1: ReadWrite, 2: ReadOnly, 3: ReadOnly}, got)

	_, err = parseBindings(`
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "@binding(1)")
}

// openDevice opens the first adapter that passes the compute probe, or
// skips (fails under IA3_REQUIRE_GPU=1).
func openDevice(t testing.TB) *Device {
	t.Helper()
	in, err := NewInstance()
	require.NoError(t, err)
	t.Cleanup(in.Release)
	for _, a := range in.Adapters() {
		if ok, reason := in.Probe(a.Index); !ok {
			t.Logf("adapter %d (%s, %s) cannot compute: %s", a.Index, a.Name, a.API, reason)
			continue
		}
		d, err := in.Open(a.Index)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		return d
	}
	if os.Getenv("IA3_REQUIRE_GPU") == "1" {
		t.Fatal("no WebGPU adapter can run compute")
	}
	t.Skip("no WebGPU adapter: install mesa-vulkan-drivers (lavapipe) to run the WebGPU tests")
	return nil
}

const addOneShader = `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@compute @workgroup_size(64)
fn add_one(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < p.n) {
        out[id.x] = x[id.x] + 1u;
    }
}
`

func words(vs ...uint32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func TestDispatchRoundTrip(t *testing.T) {
	d := openDevice(t)
	src := func() (string, error) { return addOneShader, nil }
	p, err := d.Pipeline("add.wgsl", "add_one", src, true, 2)
	require.NoError(t, err)
	x, err := d.Alloc(12)
	require.NoError(t, err)
	out, err := d.Alloc(12)
	require.NoError(t, err)
	require.NoError(t, d.Write(x, 0, words(1, 2, 3)))
	// The aliasing rule: x bound read-write and read-only at once would be
	// invalid; Dispatch reads a scratch copy instead.
	require.NoError(t, d.Dispatch(p, words(3), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: x}}))
	require.NoError(t, d.Dispatch(p, words(3), [3]uint32{1, 1, 1}, []Binding{{Buf: x}, {Buf: x}}))
	got, err := d.Read(out, 0, 12)
	require.NoError(t, err)
	assert.Equal(t, words(2, 3, 4), got)
	// The same kernel over the same buffers reuses its bind group, with
	// each dispatch's parameters at their own offset in the arena.
	created := d.binds.created
	require.NoError(t, d.Dispatch(p, words(1), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: x}}))
	require.NoError(t, d.Dispatch(p, words(2), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: x}}))
	assert.Equal(t, created, d.binds.created, "bind group reused")
	got, err = d.Read(out, 0, 12)
	require.NoError(t, err)
	assert.Equal(t, words(3, 4, 4), got, "n = 2 for the second dispatch: its own parameters")
	got, err = d.Read(x, 0, 12)
	require.NoError(t, err)
	assert.Equal(t, words(2, 3, 4), got)
	d.Free(x)
	d.Free(out)
	require.NoError(t, d.Sync())
}

func TestPipelineErrors(t *testing.T) {
	d := openDevice(t)
	_, err := d.Pipeline("bad.wgsl", "main", func() (string, error) { return "fn main( {", nil }, false, 1)
	require.Error(t, err, "a WGSL syntax error must come back as an error")
	_, err = d.Pipeline("add.wgsl", "add_one", func() (string, error) { return addOneShader, nil }, true, 3)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "@binding(3)")
	_, err = d.Pipeline("add.wgsl", "missing", func() (string, error) { return addOneShader, nil }, true, 2)
	require.Error(t, err, "an unknown entry point is an error")
	_, err = d.Alloc(d.Limits().MaxStorageBufferBindingSize + 1)
	require.Error(t, err)
	require.NoError(t, d.Sync(), "refused work leaves the device usable")
}

// TestRecordingErrorSurfaces binds a destroyed buffer: WebGPU's validation
// error comes back from Dispatch as a Go error, not a crash, and the device
// stays usable. (A failed queue submission, by contrast, aborts inside
// wgpu-native 0.17 whatever the error scopes; the layer never destroys a
// buffer that recorded work still uses, so submissions stay valid.)
func TestRecordingErrorSurfaces(t *testing.T) {
	d := openDevice(t)
	src := func() (string, error) { return addOneShader, nil }
	p, err := d.Pipeline("add.wgsl", "add_one", src, true, 2)
	require.NoError(t, err)
	x, err := d.Alloc(16)
	require.NoError(t, err)
	out, err := d.Alloc(16)
	require.NoError(t, err)
	x.raw.Destroy()
	err = d.Dispatch(p, words(4), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: x}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "destroyed")
	require.NoError(t, d.Sync())

	y, err := d.Alloc(16)
	require.NoError(t, err)
	require.NoError(t, d.Write(y, 0, words(7, 8, 9, 10)))
	require.NoError(t, d.Dispatch(p, words(4), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: y}}))
	got, err := d.Read(out, 0, 16)
	require.NoError(t, err)
	assert.Equal(t, words(8, 9, 10, 11), got)
}
