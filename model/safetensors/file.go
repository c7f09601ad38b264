package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/ia3/ia3/internal/regular"
)

// File is one open safetensors file. Its accessors may be called from
// several goroutines at once, but not concurrently with Close.
type File struct {
	path    string
	hdr     *header
	names   []string
	mapping []byte // whole file (mapped or read), nil after Close
	mapped  bool
	data    []byte // the data section inside mapping
	closed  bool
}

// Open opens and validates the safetensors file at path. The data section
// is memory-mapped read-only (or read into memory where mapping fails);
// call Close to release it.
//
// Only regular files are opened: a FIFO, device or directory is refused
// before it is opened for reading (opening a FIFO would wait for a writer).
func Open(path string) (*File, error) {
	if err := regular.Check(path); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err) // names the path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err) // names the path
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: stat %s: %w", path, err)
	}
	if err := regular.Mode(path, st.Mode()); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: %d bytes is too short for the 8-byte header length: %w", path, size, ErrCorrupt)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit: %w", path, n, MaxHeaderSize, ErrCorrupt)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors: %s: header length %d runs past the end of the %d-byte file: %w", path, n, size, ErrCorrupt)
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read %d-byte header: %w", path, n, err)
	}
	dataStart := 8 + int64(n)
	hdr, err := parseHeader(path, raw, size-dataStart)
	if err != nil {
		return nil, err
	}
	mapping, mapped, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: read data: %w", path, err)
	}
	return &File{
		path:    path,
		hdr:     hdr,
		names:   slices.Sorted(maps.Keys(hdr.tensors)),
		mapping: mapping,
		mapped:  mapped,
		data:    mapping[dataStart:],
	}, nil
}

// readAll reads the first size bytes of f.
func readAll(f *os.File, size int64) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Path returns the path the file was opened from.
func (f *File) Path() string { return f.path }

// Close releases the file's data. Using the File afterwards returns
// ErrClosed; closing twice is a no-op.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	m := f.mapping
	f.mapping, f.data = nil, nil
	if f.mapped {
		if err := unmapFile(m); err != nil {
			return fmt.Errorf("safetensors: %s: unmap: %w", f.path, err)
		}
	}
	return nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the dtype, shape and byte range of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.hdr.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Metadata returns a copy of the header's "__metadata__" map (nil when the
// file has none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.hdr.metadata) }

// read calls fn with the tensor's bytes inside the mapping, without
// copying; fn must not keep them. A fault while fn reads them (the file
// was truncated while mapped) is returned as an error naming the file.
func read[T any](f *File, name string, fn func(TensorInfo, []byte) (T, error)) (T, error) {
	var zero T
	if f.closed {
		return zero, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrClosed)
	}
	t, ok := f.hdr.tensors[name]
	if !ok {
		return zero, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrNotFound)
	}
	var out T
	err := guardFault(f.path, name, f.mapped, func() error {
		var err error
		out, err = fn(t, f.data[t.Offset:t.Offset+t.Size])
		return err
	})
	return out, err
}

// Bytes returns a copy of the named tensor's raw little-endian bytes.
// (It copies because the mapping is read-only and released by Close.)
func (f *File) Bytes(name string) ([]byte, error) {
	return read(f, name, func(_ TensorInfo, b []byte) ([]byte, error) { return slices.Clone(b), nil })
}

// Float32 returns the named tensor as float32, widening F16 and BF16
// exactly and rounding F64. Integer tensors are refused with ErrDType.
func (f *File) Float32(name string) ([]float32, error) {
	return read(f, name, func(t TensorInfo, b []byte) ([]float32, error) {
		out, ok := decodeFloat32(t.DType, b)
		if !ok {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot read %s as float32: %w", f.path, name, t.DType, ErrDType)
		}
		return out, nil
	})
}

// Int64 returns the named integer or bool tensor as int64. Floating
// tensors are refused with ErrDType.
func (f *File) Int64(name string) ([]int64, error) {
	return read(f, name, func(t TensorInfo, b []byte) ([]int64, error) {
		out, ok := decodeInt64(t.DType, b)
		if !ok {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot read %s as int64: %w", f.path, name, t.DType, ErrDType)
		}
		return out, nil
	})
}

// Int32 returns the named integer or bool tensor as int32. I64 values are
// narrowed, and one outside the int32 range is an error naming its index.
func (f *File) Int32(name string) ([]int32, error) {
	wide, err := f.Int64(name)
	if err != nil {
		return nil, err
	}
	return narrowInt32(f.path, name, wide)
}

// narrowInt32 converts int64 values to int32, failing on overflow.
func narrowInt32(path, name string, wide []int64) ([]int32, error) {
	out := make([]int32, len(wide))
	for i, v := range wide {
		if v < -1<<31 || v > 1<<31-1 {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: element %d = %d overflows int32: %w", path, name, i, v, ErrDType)
		}
		out[i] = int32(v)
	}
	return out, nil
}
