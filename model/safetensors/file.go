package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
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
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: stat %s: %w", path, err)
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

// view returns the tensor's bytes inside the mapping, without copying.
func (f *File) view(name string) (TensorInfo, []byte, error) {
	if f.closed {
		return TensorInfo{}, nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrClosed)
	}
	t, ok := f.hdr.tensors[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrNotFound)
	}
	return t, f.data[t.Offset : t.Offset+t.Size], nil
}

// Bytes returns a copy of the named tensor's raw little-endian bytes.
// (It copies because the mapping is read-only and released by Close.)
func (f *File) Bytes(name string) ([]byte, error) {
	_, b, err := f.view(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(b), nil
}

// Float32 returns the named tensor as float32, widening F16 and BF16
// exactly and rounding F64. Integer tensors are refused with ErrDType.
func (f *File) Float32(name string) ([]float32, error) {
	t, b, err := f.view(name)
	if err != nil {
		return nil, err
	}
	out, ok := decodeFloat32(t.DType, b)
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot read %s as float32: %w", f.path, name, t.DType, ErrDType)
	}
	return out, nil
}

// Int64 returns the named integer or bool tensor as int64. Floating
// tensors are refused with ErrDType.
func (f *File) Int64(name string) ([]int64, error) {
	t, b, err := f.view(name)
	if err != nil {
		return nil, err
	}
	out, ok := decodeInt64(t.DType, b)
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot read %s as int64: %w", f.path, name, t.DType, ErrDType)
	}
	return out, nil
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
