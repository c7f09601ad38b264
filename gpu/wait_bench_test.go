//go:build cgo && !nowebgpu

package gpu

import "testing"

// BenchmarkReadRoundTrip times one small dispatch and the readback of its
// result: the latency a generation step pays per token for its wait.
func BenchmarkReadRoundTrip(b *testing.B) {
	d := openDevice(b)
	p, err := d.Pipeline("add.wgsl", "add_one", func() (string, error) { return addOneShader, nil }, true, 2)
	if err != nil {
		b.Fatal(err)
	}
	x, err := d.Alloc(256)
	if err != nil {
		b.Fatal(err)
	}
	out, err := d.Alloc(256)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := d.Dispatch(p, words(64), [3]uint32{1, 1, 1}, []Binding{{Buf: out}, {Buf: x}}); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Read(out, 0, 4); err != nil {
			b.Fatal(err)
		}
	}
}
