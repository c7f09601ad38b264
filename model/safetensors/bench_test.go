package safetensors

import (
	"path/filepath"
	"testing"
)

// BenchmarkOpenAndReadFloat32 opens a 4 MiB checkpoint and decodes it.
func BenchmarkOpenAndReadFloat32(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	var ts []Tensor
	for i := range 16 {
		ts = append(ts, F32Tensor(string(rune('a'+i)), []int{256, 256}, make([]float32, 256*256)))
	}
	if err := Write(path, ts, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(16 * 256 * 256 * 4)
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range f.Names() {
			if _, err := f.Float32(n); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
}
