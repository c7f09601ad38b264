//go:build cgo && !nowebgpu

package gpu

import "fmt"

// probeShader is the smallest useful compute kernel: if an adapter can build
// and run it, it can run the backend's kernels.
const probeShader = `
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    data[id.x] = data[id.x] + 1u;
}
`

// Probe reports whether adapter i can run compute shaders: it opens a
// device, builds and runs a one-line kernel, and checks the result. An
// adapter that cannot (an OpenGL adapter without compute support, say) gives
// ok false and the reason; the binding's panics are contained here.
func (in *Instance) Probe(i int) (ok bool, reason string) {
	defer func() {
		if r := recover(); r != nil {
			ok, reason = false, fmt.Sprintf("compute probe panicked: %v", r)
		}
	}()
	d, err := in.Open(i)
	if err != nil {
		return false, err.Error()
	}
	defer d.Close()
	if err := d.probe(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (d *Device) probe() error {
	p, err := d.Pipeline("probe.wgsl", "main", func() (string, error) { return probeShader, nil }, false, 1)
	if err != nil {
		return err
	}
	buf, err := d.Alloc(16)
	if err != nil {
		return err
	}
	defer d.Free(buf)
	if err := d.Write(buf, 0, []byte{41, 0, 0, 0}); err != nil {
		return err
	}
	if err := d.Dispatch(p, nil, [3]uint32{1, 1, 1}, []Binding{{Buf: buf, Size: 16}}); err != nil {
		return err
	}
	out, err := d.Read(buf, 0, 4)
	if err != nil {
		return err
	}
	if out[0] != 42 {
		return fmt.Errorf("compute probe returned %d, want 42", out[0])
	}
	return nil
}
