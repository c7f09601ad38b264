package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is
// absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a ggml tensor has (GGML_MAX_DIMS).
const MaxDims = 4

// maxNesting bounds arrays of arrays, which no real file uses deeply.
const maxNesting = 8

// Limits past any real model (the largest vocabularies and merge lists
// have about a million entries, mixture-of-experts files a few thousand
// tensors): a count beyond them is refused before memory is set aside, so
// a hostile count costs no more than the file's own size.
const (
	MaxTensors  = 1 << 20
	MaxMetadata = 1 << 20
	MaxArrayLen = 1 << 24
)

// ErrCorrupt is wrapped by every error about malformed file content.
var ErrCorrupt = errors.New("gguf: corrupt or unsupported file")

// TensorInfo is one entry of a file's tensor table.
type TensorInfo struct {
	// Name is llama.cpp's tensor name, e.g. "blk.0.attn_q.weight".
	Name string
	// Dims are ggml's ne: Dims[0] is the fastest-varying (row) length.
	Dims []int64
	// Type is the ggml type of the data.
	Type Type
	// Offset is the first byte of the data, relative to the data section.
	Offset int64
	// Size is the data's byte length.
	Size int64
	// part is the index of the split file holding the data (0: this one).
	part int
}

// Shape returns the dimensions in row-major order, as numpy and
// safetensors write them (Dims reversed).
func (t TensorInfo) Shape() []int {
	out := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		out[len(t.Dims)-1-i] = int(d)
	}
	return out
}

// NumElements returns the product of the dimensions.
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is an open GGUF file: its metadata and tensor table are read and
// checked; tensor data is read on demand.
type File struct {
	path       string
	ra         io.ReaderAt
	closer     io.Closer
	size       int64
	version    uint32
	alignment  int64
	dataOffset int64
	keys       []string
	kv         map[string]Value
	tensors    []TensorInfo
	byName     map[string]int
	// parts are the further files of a split model (split.count > 1),
	// holding the tensors whose part is i+1.
	parts []*File
}

// Open opens and parses the GGUF file at path. The file stays open for
// tensor reads until Close. When it is one file of a split model
// (llama-gguf-split's NAME-00001-of-00003.gguf, split.count > 1), the other
// files beside it are opened too and the File holds the first file's
// metadata and every file's tensors.
func Open(path string) (*File, error) {
	f, err := openOne(path)
	if err != nil {
		return nil, err
	}
	n, err := f.uintKey("split.count", 1)
	if err != nil {
		f.Close()
		return nil, err
	}
	if n <= 1 {
		return f, nil
	}
	return joinSplit(f, path, int(n))
}

// openOne opens and parses one file.
func openOne(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("gguf: %s is not a regular file: %w", path, ErrCorrupt)
	}
	f, err := Read(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Read parses a GGUF file of size bytes read through r; name labels it in
// messages. Tensor reads go through r afterwards.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	p := &parser{r: r, size: size, path: name}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the file (every file of a split model).
func (f *File) Close() error {
	var first error
	for _, p := range f.parts {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
	}
	f.parts = nil
	if f.closer == nil {
		return first
	}
	err := f.closer.Close()
	f.closer = nil
	if first == nil {
		first = err
	}
	return first
}

// Path returns the file's name as given to Open or Read.
func (f *File) Path() string { return f.path }

// Version returns the format version (2 or 3).
func (f *File) Version() uint32 { return f.version }

// Alignment returns the tensor data alignment.
func (f *File) Alignment() int64 { return f.alignment }

// DataOffset returns the file offset of the tensor data section.
func (f *File) DataOffset() int64 { return f.dataOffset }

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string { return slices.Clone(f.keys) }

// Get returns the metadata value of key.
func (f *File) Get(key string) (Value, bool) {
	v, ok := f.kv[key]
	return v, ok
}

// Tensors returns the tensor table in file order.
func (f *File) Tensors() []TensorInfo { return slices.Clone(f.tensors) }

// Tensor returns the table entry of the tensor called name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i], true
}

// Raw returns a copy of a tensor's stored bytes.
func (f *File) Raw(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor %q", f.path, name)
	}
	src := f
	if t.part > 0 {
		src = f.parts[t.part-1]
	}
	buf := make([]byte, t.Size)
	if _, err := src.ra.ReadAt(buf, src.dataOffset+t.Offset); err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: read %d bytes at %d: %w", src.path, name, t.Size, src.dataOffset+t.Offset, err)
	}
	return buf, nil
}

// Float32 returns a tensor's elements dequantised to float32, in ggml order
// (row-major with Dims[0] as the row length).
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor %q", f.path, name)
	}
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	out, err := Dequantize(t.Type, raw, t.NumElements())
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// parser reads the header, metadata and tensor table sequentially,
// bounds-checking every read against the file size. Small reads are served
// from a read-ahead window so that a vocabulary of 150,000 strings is not
// 300,000 system calls.
type parser struct {
	r      io.ReaderAt
	size   int64
	off    int64
	path   string
	window []byte // file bytes from winAt
	winAt  int64
}

// windowSize is the read-ahead of the metadata parser.
const windowSize = 1 << 20

// errf returns an ErrCorrupt error naming the file, the offset and what.
func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("gguf: %s: at byte %d: %s: %w", p.path, p.off, fmt.Sprintf(format, args...), ErrCorrupt)
}

// left returns the bytes not read yet.
func (p *parser) left() int64 { return p.size - p.off }

// bytes reads n bytes for the field what.
func (p *parser) bytes(n int64, what string) ([]byte, error) {
	if n < 0 || n > p.left() {
		return nil, p.errf("%s needs %d bytes, %d left in the file", what, n, p.left())
	}
	buf := make([]byte, n)
	if n > windowSize/4 {
		if _, err := p.r.ReadAt(buf, p.off); err != nil {
			return nil, fmt.Errorf("gguf: %s: reading %s at byte %d: %w", p.path, what, p.off, err)
		}
		p.off += n
		return buf, nil
	}
	if p.off < p.winAt || p.off+n > p.winAt+int64(len(p.window)) {
		w := min(int64(windowSize), p.left())
		if int64(cap(p.window)) < w {
			p.window = make([]byte, w)
		}
		p.window, p.winAt = p.window[:w], p.off
		if _, err := p.r.ReadAt(p.window, p.off); err != nil {
			p.window = p.window[:0]
			return nil, fmt.Errorf("gguf: %s: reading %s at byte %d: %w", p.path, what, p.off, err)
		}
	}
	copy(buf, p.window[p.off-p.winAt:])
	p.off += n
	return buf, nil
}

func (p *parser) u32(what string) (uint32, error) {
	b, err := p.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64(what string) (uint64, error) {
	b, err := p.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a u64 count of items taking at least minSize bytes each and
// checks that the rest of the file can hold them.
func (p *parser) count(what string, minSize int64) (int64, error) {
	n, err := p.u64(what)
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(p.left()/minSize) {
		return 0, p.errf("%s is %d, more than the %d bytes left can hold", what, n, p.left())
	}
	return int64(n), nil
}

// limited is count with an upper bound on the number itself.
func (p *parser) limited(what string, minSize, limit int64) (int64, error) {
	n, err := p.count(what, minSize)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, p.errf("%s is %d, more than the limit of %d", what, n, limit)
	}
	return n, nil
}

// str reads a length-prefixed string.
func (p *parser) str(what string) (string, error) {
	n, err := p.count(what+" length", 1)
	if err != nil {
		return "", err
	}
	b, err := p.bytes(n, what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (p *parser) file() (*File, error) {
	magic, err := p.bytes(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("gguf: %s: magic is %q, not %q: not a GGUF file: %w", p.path, magic, Magic, ErrCorrupt)
	}
	version, err := p.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case bits.ReverseBytes32(version) == 2 || bits.ReverseBytes32(version) == 3:
		return nil, fmt.Errorf("gguf: %s: big-endian GGUF files are not supported: %w", p.path, ErrCorrupt)
	default:
		return nil, fmt.Errorf("gguf: %s: version %d is not supported (2 and 3 are): %w", p.path, version, ErrCorrupt)
	}
	// A tensor table entry takes at least 24 bytes (name length, dims count,
	// type, offset), a key/value at least 13 (key length, type, one byte).
	nTensors, err := p.limited("tensor count", 24, MaxTensors)
	if err != nil {
		return nil, err
	}
	nKV, err := p.limited("metadata count", 13, MaxMetadata)
	if err != nil {
		return nil, err
	}
	f := &File{path: p.path, ra: p.r, size: p.size, version: version, kv: make(map[string]Value, min(nKV, 1024)),
		byName: make(map[string]int, min(nTensors, 1024)), alignment: DefaultAlignment}
	for i := int64(0); i < nKV; i++ {
		key, err := p.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := f.kv[key]; dup {
			return nil, p.errf("metadata key %q appears twice", key)
		}
		vt, err := p.u32(fmt.Sprintf("type of metadata %q", key))
		if err != nil {
			return nil, err
		}
		v, err := p.value(ValueType(vt), "metadata "+key, 0)
		if err != nil {
			return nil, err
		}
		f.keys = append(f.keys, key)
		f.kv[key] = v
	}
	if v, ok := f.kv["general.alignment"]; ok {
		a, isU32 := v.data.(uint64)
		if v.Type != TypeUint32 || !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: %s: general.alignment must be a uint32 power of two, got %s %v: %w",
				p.path, v.Type, v.data, ErrCorrupt)
		}
		f.alignment = int64(a)
	}
	for i := int64(0); i < nTensors; i++ {
		t, err := p.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, p.errf("tensor %q appears twice", t.Name)
		}
		f.byName[t.Name] = len(f.tensors)
		f.tensors = append(f.tensors, t)
	}
	pad := (f.alignment - p.off%f.alignment) % f.alignment
	if nTensors > 0 && pad > p.left() {
		return nil, p.errf("padding before the tensor data runs past the end of the file")
	}
	f.dataOffset = p.off + pad
	if err := f.checkData(); err != nil {
		return nil, err
	}
	return f, nil
}

// tensorInfo reads entry i of the tensor table.
func (p *parser) tensorInfo(i int64) (TensorInfo, error) {
	name, err := p.str(fmt.Sprintf("name of tensor %d", i))
	if err != nil {
		return TensorInfo{}, err
	}
	nd, err := p.u32(fmt.Sprintf("tensor %q dimension count", name))
	if err != nil {
		return TensorInfo{}, err
	}
	if nd == 0 || nd > MaxDims {
		return TensorInfo{}, p.errf("tensor %q has %d dimensions (1 to %d allowed)", name, nd, MaxDims)
	}
	t := TensorInfo{Name: name, Dims: make([]int64, nd)}
	elems := uint64(1)
	for d := range t.Dims {
		n, err := p.u64(fmt.Sprintf("tensor %q dimension %d", name, d))
		if err != nil {
			return TensorInfo{}, err
		}
		if n == 0 || n > math.MaxInt64 {
			return TensorInfo{}, p.errf("tensor %q dimension %d is %d", name, d, n)
		}
		hi, lo := bits.Mul64(elems, n)
		if hi != 0 || lo > math.MaxInt64 {
			return TensorInfo{}, p.errf("tensor %q has too many elements", name)
		}
		elems = lo
		t.Dims[d] = int64(n)
	}
	typ, err := p.u32(fmt.Sprintf("tensor %q type", name))
	if err != nil {
		return TensorInfo{}, err
	}
	t.Type = Type(typ)
	tr, ok := traits[t.Type]
	if !ok {
		return TensorInfo{}, p.errf("tensor %q has unknown ggml type %d", name, typ)
	}
	if t.Dims[0]%tr.blockSize != 0 {
		return TensorInfo{}, p.errf("tensor %q row length %d is not a multiple of %s's block size %d", name, t.Dims[0], t.Type, tr.blockSize)
	}
	blocks := elems / uint64(tr.blockSize)
	hi, size := bits.Mul64(blocks, uint64(tr.typeSize))
	if hi != 0 || size > math.MaxInt64 {
		return TensorInfo{}, p.errf("tensor %q byte size overflows", name)
	}
	t.Size = int64(size)
	off, err := p.u64(fmt.Sprintf("tensor %q offset", name))
	if err != nil {
		return TensorInfo{}, err
	}
	if off > math.MaxInt64 {
		return TensorInfo{}, p.errf("tensor %q offset %d is out of range", name, off)
	}
	t.Offset = int64(off)
	return t, nil
}

// checkData checks that every tensor is aligned, lies inside the data
// section and overlaps no other.
func (f *File) checkData() error {
	dataLen := f.size - f.dataOffset
	order := make([]int, len(f.tensors))
	for i := range order {
		order[i] = i
	}
	for _, t := range f.tensors {
		if t.Offset%f.alignment != 0 {
			return fmt.Errorf("gguf: %s: tensor %q offset %d is not a multiple of the alignment %d: %w", f.path, t.Name, t.Offset, f.alignment, ErrCorrupt)
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return fmt.Errorf("gguf: %s: tensor %q (%d bytes at data offset %d) runs past the end of the file (%d data bytes): %w",
				f.path, t.Name, t.Size, t.Offset, dataLen, ErrCorrupt)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.tensors[order[a]].Offset < f.tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := f.tensors[order[k-1]], f.tensors[order[k]]
		if prev.Offset+prev.Size > cur.Offset {
			return fmt.Errorf("gguf: %s: tensors %q and %q overlap: %w", f.path, prev.Name, cur.Name, ErrCorrupt)
		}
	}
	return nil
}
