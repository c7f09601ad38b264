//go:build !unix

package safetensors

import "os"

// mapFile reads the whole file into memory on platforms without mmap.
func mapFile(f *os.File, size int64) (data []byte, mapped bool, err error) {
	data, err = readAll(f, size)
	return data, false, err
}

// unmapFile is never called on these platforms.
func unmapFile([]byte) error { return nil }
