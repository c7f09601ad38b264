package torchbin

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ia3/ia3/internal/regular"
	"github.com/ia3/ia3/model/safetensors"
)

// maxDeflateRatio bounds how much a compressed record may claim to
// expand (deflate cannot exceed about 1032:1), so that a small file cannot
// declare a huge storage. torch itself stores records uncompressed.
const maxDeflateRatio = 1032

// File is one open torch.save checkpoint. Its accessors may be called
// from several goroutines at once, but not concurrently with Close.
type File struct {
	path    string
	r       io.ReaderAt          // the archive's bytes
	closer  io.Closer            // the open file, nil for in-memory archives
	records map[string]*zip.File // storage key → its data/<key> record
	tensors map[string]*tensor
	names   []string
	mu      sync.Mutex // guards closed
	closed  bool
}

// Open opens the torch.save zip checkpoint at path, unpickles its state
// dict with the restricted unpickler and checks every tensor against its
// storage record. Tensor data is read when asked for; call Close to
// release the file.
func Open(path string) (*File, error) {
	if err := regular.Check(path); err != nil {
		return nil, fmt.Errorf("torchbin: %w", err) // names the path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("torchbin: stat %s: %w", path, err)
	}
	if err := regular.Mode(path, st.Mode()); err != nil {
		f.Close()
		return nil, fmt.Errorf("torchbin: %w", err)
	}
	tf, err := openReader(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	tf.closer = f
	return tf, nil
}

// openReader reads the archive of size bytes in r (path is for messages).
func openReader(path string, r io.ReaderAt, size int64) (*File, error) {
	if err := sniff(path, r, size); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: not a readable zip archive: %v: %w", path, err, ErrCorrupt)
	}
	prefix, err := archiveDir(path, zr)
	if err != nil {
		return nil, err
	}
	byName := map[string]*zip.File{}
	for _, zf := range zr.File {
		byName[zf.Name] = zf
	}
	if err := checkHeaderRecords(path, prefix, byName); err != nil {
		return nil, err
	}
	pkl, err := readRecord(byName[prefix+"data.pkl"], MaxPickleSize)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %sdata.pkl: %w", path, prefix, err)
	}
	entries, err := unpickle(pkl)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %sdata.pkl: %w", path, prefix, err)
	}
	tf := &File{path: path, r: r, records: map[string]*zip.File{}, tensors: map[string]*tensor{}}
	for _, e := range entries {
		st := e.t.st
		if _, ok := tf.records[st.key]; !ok {
			rec, err := storageRecord(byName, prefix, st, size)
			if err != nil {
				return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", path, e.name, err)
			}
			tf.records[st.key] = rec
		}
		tf.tensors[e.name] = e.t
	}
	tf.names = slices.Sorted(maps.Keys(tf.tensors))
	return tf, nil
}

// sniff tells torch's zip format from the legacy pickle stream (and from
// files that are neither) by their first bytes.
func sniff(path string, f io.ReaderAt, size int64) error {
	var head [4]byte
	n, _ := f.ReadAt(head[:], 0)
	switch {
	case n == 4 && string(head[:]) == "PK\x03\x04":
		return nil
	case n >= 1 && head[0] == opProto:
		return fmt.Errorf("torchbin: %s: %w", path, ErrLegacy)
	case size >= 262:
		var magic [5]byte
		if m, _ := f.ReadAt(magic[:], 257); m == 5 && string(magic[:]) == "ustar" {
			return fmt.Errorf("torchbin: %s: a tar archive: %w", path, ErrLegacy)
		}
	}
	return fmt.Errorf("torchbin: %s: not a torch.save zip archive (it starts with %q): %w", path, head[:n], ErrCorrupt)
}

// archiveDir finds the one top-level directory holding data.pkl (torch
// names it after the file stem, or "archive") and returns it with a
// trailing slash.
func archiveDir(path string, zr *zip.Reader) (string, error) {
	var dirs []string
	for _, zf := range zr.File {
		dir, rest, ok := strings.Cut(zf.Name, "/")
		if ok && rest == "data.pkl" && dir != "" {
			dirs = append(dirs, dir)
		}
	}
	switch len(dirs) {
	case 0:
		return "", fmt.Errorf("torchbin: %s: the zip has no <dir>/data.pkl, so it is not a torch.save checkpoint: %w", path, ErrCorrupt)
	case 1:
		return dirs[0] + "/", nil
	}
	return "", fmt.Errorf("torchbin: %s: the zip has %d data.pkl records (%s): %w", path, len(dirs), strings.Join(dirs, ", "), ErrCorrupt)
}

// checkHeaderRecords checks byteorder (little-endian only; torch before
// 1.13 wrote none, meaning little) and version when present.
func checkHeaderRecords(path, prefix string, byName map[string]*zip.File) error {
	if zf := byName[prefix+"byteorder"]; zf != nil {
		b, err := readRecord(zf, 16)
		if err != nil {
			return fmt.Errorf("torchbin: %s: %sbyteorder: %w", path, prefix, err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			return fmt.Errorf("torchbin: %s: the checkpoint was saved big-endian; only little-endian data is read (re-save it on a little-endian machine or convert it to safetensors): %w", path, ErrUnsupported)
		default:
			return fmt.Errorf("torchbin: %s: %sbyteorder is %q, not \"little\" or \"big\": %w", path, prefix, b, ErrCorrupt)
		}
	}
	if zf := byName[prefix+"version"]; zf != nil {
		b, err := readRecord(zf, 16)
		if err != nil {
			return fmt.Errorf("torchbin: %s: %sversion: %w", path, prefix, err)
		}
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || v < 1 {
			return fmt.Errorf("torchbin: %s: %sversion is %q, not a format version number: %w", path, prefix, b, ErrCorrupt)
		}
	}
	return nil
}

// readRecord reads a whole (small) record of at most limit bytes.
func readRecord(zf *zip.File, limit int64) ([]byte, error) {
	if zf == nil {
		return nil, fmt.Errorf("record missing: %w", ErrCorrupt)
	}
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("record of %d bytes exceeds the %d-byte limit: %w", zf.UncompressedSize64, limit, ErrCorrupt)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("open record: %v: %w", err, ErrCorrupt)
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read record: %v: %w", err, ErrCorrupt)
	}
	if n > limit {
		return nil, fmt.Errorf("record exceeds the %d-byte limit: %w", limit, ErrCorrupt)
	}
	return buf.Bytes(), nil
}

// storageRecord finds data/<key> for st and checks that it holds exactly
// st's bytes and, for a stored record, that they lie inside the file.
func storageRecord(byName map[string]*zip.File, prefix string, st *storage, fileSize int64) (*zip.File, error) {
	name := prefix + "data/" + st.key
	zf := byName[name]
	if zf == nil {
		return nil, fmt.Errorf("storage record %s is missing: %w", name, ErrCorrupt)
	}
	el, _ := safetensors.DTypeSize(st.dtype)
	if st.numel > math.MaxInt64/int64(el) {
		return nil, fmt.Errorf("storage %s of %d %s elements overflows: %w", st.key, st.numel, st.dtype, ErrCorrupt)
	}
	want := st.numel * int64(el)
	if zf.UncompressedSize64 != uint64(want) {
		return nil, fmt.Errorf("storage record %s holds %d bytes, but its %d %s elements need %d: %w",
			name, zf.UncompressedSize64, st.numel, st.dtype, want, ErrCorrupt)
	}
	switch zf.Method {
	case zip.Store:
		off, err := zf.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("storage record %s: %v: %w", name, err, ErrCorrupt)
		}
		if off < 0 || want > fileSize-off {
			return nil, fmt.Errorf("storage record %s (%d bytes at offset %d) runs past the end of the %d-byte file: %w", name, want, off, fileSize, ErrCorrupt)
		}
	default:
		if zf.UncompressedSize64 > maxDeflateRatio*zf.CompressedSize64+1024 {
			return nil, fmt.Errorf("storage record %s claims %d bytes from %d compressed: %w", name, zf.UncompressedSize64, zf.CompressedSize64, ErrCorrupt)
		}
	}
	return zf, nil
}

// Path returns the path the file was opened from.
func (f *File) Path() string { return f.path }

// Close releases the file. Using the File afterwards returns
// safetensors.ErrClosed; closing twice is a no-op.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if f.closer == nil {
		return nil
	}
	if err := f.closer.Close(); err != nil {
		return fmt.Errorf("torchbin: %s: close: %w", f.path, err)
	}
	return nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the named tensor's dtype and shape; Offset is the view's
// first byte within its storage record and Size its contiguous length.
func (f *File) Info(name string) (safetensors.TensorInfo, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return safetensors.TensorInfo{}, false
	}
	el, _ := safetensors.DTypeSize(t.st.dtype)
	shape := make([]int, len(t.shape))
	for i, d := range t.shape {
		shape[i] = int(d)
	}
	return safetensors.TensorInfo{DType: t.st.dtype, Shape: shape, Offset: t.offset * int64(el), Size: t.numel() * int64(el)}, true
}

// Bytes returns the named tensor's elements as contiguous little-endian
// bytes, copied out of its storage (views are gathered in row-major
// order).
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.path, name, safetensors.ErrClosed)
	}
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.path, name, safetensors.ErrNotFound)
	}
	out, err := f.gather(t)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// Float32 returns the named floating tensor as float32 (F16 and BF16
// widened exactly, F64 rounded); integer tensors are refused with
// safetensors.ErrDType.
func (f *File) Float32(name string) ([]float32, error) {
	raw, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	dt := f.tensors[name].st.dtype
	out, ok := safetensors.DecodeFloat32(dt, raw)
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: cannot read %s as float32: %w", f.path, name, dt, safetensors.ErrDType)
	}
	return out, nil
}

// Int64 returns the named integer or bool tensor as int64; floating
// tensors are refused with safetensors.ErrDType.
func (f *File) Int64(name string) ([]int64, error) {
	raw, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	dt := f.tensors[name].st.dtype
	out, ok := safetensors.DecodeInt64(dt, raw)
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: cannot read %s as int64: %w", f.path, name, dt, safetensors.ErrDType)
	}
	return out, nil
}

// gather reads the storage span a checked view addresses and copies its
// elements out in row-major order.
func (f *File) gather(t *tensor) ([]byte, error) {
	el, _ := safetensors.DTypeSize(t.st.dtype)
	numel := t.numel()
	if numel == 0 {
		return []byte{}, nil
	}
	last := t.offset
	for i, n := range t.shape {
		last += (n - 1) * t.strides[i]
	}
	span, err := f.readSpan(f.records[t.st.key], t.offset*int64(el), (last-t.offset+1)*int64(el))
	if err != nil {
		return nil, err
	}
	if t.contiguous() {
		return span, nil
	}
	out := make([]byte, numel*int64(el))
	idx := make([]int64, len(t.shape))
	for o := int64(0); o < numel; o++ {
		src := int64(0)
		for i, k := range idx {
			src += k * t.strides[i]
		}
		copy(out[o*int64(el):(o+1)*int64(el)], span[src*int64(el):(src+1)*int64(el)])
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < t.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

// readSpan reads n bytes at byte offset off of a storage record.
func (f *File) readSpan(zf *zip.File, off, n int64) ([]byte, error) {
	buf := make([]byte, n)
	if zf.Method == zip.Store {
		start, err := zf.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("storage record %s: %v: %w", zf.Name, err, ErrCorrupt)
		}
		if _, err := f.r.ReadAt(buf, start+off); err != nil {
			return nil, fmt.Errorf("read storage record %s: %w", zf.Name, err)
		}
		return buf, nil
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("open storage record %s: %v: %w", zf.Name, err, ErrCorrupt)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		return nil, fmt.Errorf("read storage record %s: %v: %w", zf.Name, err, ErrCorrupt)
	}
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("record shorter than declared: %w", ErrCorrupt)
		}
		return nil, fmt.Errorf("read storage record %s: %w", zf.Name, err)
	}
	return buf, nil
}
