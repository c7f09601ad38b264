//go:build unix

package safetensors

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only. mapped reports whether the bytes
// must be released with unmapFile; on mapping failure it falls back to
// reading the file into memory.
func mapFile(f *os.File, size int64) (data []byte, mapped bool, err error) {
	if size > 0 && int64(int(size)) == size {
		if m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED); err == nil {
			return m, true, nil
		}
	}
	data, err = readAll(f, size)
	return data, false, err
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(data []byte) error {
	return syscall.Munmap(data)
}
