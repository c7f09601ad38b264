package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
)

// MaxHeaderSize bounds the JSON header length accepted by Open. Real
// checkpoints with hundreds of thousands of tensors stay far below it; a
// larger value means a corrupt or hostile length field.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding the string metadata map.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	// DType is the header's dtype name, e.g. "F32".
	DType string
	// Shape is the tensor shape; a scalar has an empty shape.
	Shape []int
	// Offset is the tensor's first byte within the data section.
	Offset int64
	// Size is the tensor's byte length.
	Size int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// headerEntry is one tensor entry as written in the JSON header. Pointers
// tell a missing field from a zero one.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// header is a parsed and fully validated safetensors header.
type header struct {
	tensors  map[string]TensorInfo
	metadata map[string]string
}

// parseHeader decodes and validates the JSON header of the file at path
// (used only in messages) whose data section holds dataLen bytes. It checks
// that every entry is complete, of a known dtype, with a byte count that
// matches its shape, inside the data section and overlapping no other.
func parseHeader(path string, raw []byte, dataLen int64) (*header, error) {
	h := &header{tensors: map[string]TensorInfo{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("safetensors: %s: header is not a JSON object: %w", path, ErrCorrupt)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: header JSON: %v: %w", path, err, ErrCorrupt)
		}
		name, _ := tok.(string) // object keys are always strings
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: header JSON: %v: %w", path, name, err, ErrCorrupt)
		}
		if _, dup := h.tensors[name]; dup || (name == metadataKey && h.metadata != nil) {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: duplicate header key: %w", path, name, ErrCorrupt)
		}
		if name == metadataKey {
			if err := json.Unmarshal(value, &h.metadata); err != nil {
				return nil, fmt.Errorf("safetensors: %s: tensor %q: metadata must map strings to strings: %v: %w", path, name, err, ErrCorrupt)
			}
			if h.metadata == nil {
				h.metadata = map[string]string{}
			}
			continue
		}
		info, err := parseEntry(value, dataLen)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", path, name, err)
		}
		h.tensors[name] = info
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: %s: header JSON: %v: %w", path, err, ErrCorrupt)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("safetensors: %s: trailing data after header JSON object: %w", path, ErrCorrupt)
	}
	if err := checkOverlaps(path, h.tensors); err != nil {
		return nil, err
	}
	return h, nil
}

// parseEntry validates one tensor entry against a data section of dataLen
// bytes.
func parseEntry(value json.RawMessage, dataLen int64) (TensorInfo, error) {
	var e headerEntry
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return TensorInfo{}, fmt.Errorf("bad entry: %v: %w", err, ErrCorrupt)
	}
	switch {
	case e.DType == nil:
		return TensorInfo{}, fmt.Errorf("entry lacks dtype: %w", ErrCorrupt)
	case e.Shape == nil:
		return TensorInfo{}, fmt.Errorf("entry lacks shape: %w", ErrCorrupt)
	case e.DataOffsets == nil:
		return TensorInfo{}, fmt.Errorf("entry lacks data_offsets: %w", ErrCorrupt)
	}
	elem, ok := DTypeSize(*e.DType)
	if !ok {
		return TensorInfo{}, fmt.Errorf("unknown dtype %q: %w", *e.DType, ErrCorrupt)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("data_offsets has %d values, want 2: %w", len(offs), ErrCorrupt)
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] are not an ordered byte range: %w", begin, end, ErrCorrupt)
	}
	if end > dataLen {
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] run past the %d-byte data section: %w", begin, end, dataLen, ErrCorrupt)
	}
	shape := make([]int, len(*e.Shape))
	empty := false
	for i, d := range *e.Shape {
		if d < 0 || uint64(d) > math.MaxInt {
			return TensorInfo{}, fmt.Errorf("shape %v has a negative or oversized dimension: %w", *e.Shape, ErrCorrupt)
		}
		empty = empty || d == 0
		shape[i] = int(d)
	}
	// A zero dimension anywhere makes the tensor empty, whatever comes
	// before it ([2, 0] as well as [0, 2]).
	want := uint64(0)
	if !empty {
		want = uint64(elem)
		for _, d := range shape {
			hi, lo := bits.Mul64(want, uint64(d))
			if hi != 0 || lo > uint64(dataLen) {
				return TensorInfo{}, fmt.Errorf("shape %v of %s needs more bytes than the %d-byte data section holds: %w",
					*e.Shape, *e.DType, dataLen, ErrCorrupt)
			}
			want = lo
		}
	}
	if want != uint64(end-begin) {
		return TensorInfo{}, fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d: %w",
			*e.Shape, *e.DType, want, begin, end, end-begin, ErrCorrupt)
	}
	return TensorInfo{DType: *e.DType, Shape: shape, Offset: begin, Size: end - begin}, nil
}

// checkOverlaps rejects tensors whose (non-empty) byte ranges intersect.
func checkOverlaps(path string, tensors map[string]TensorInfo) error {
	names := make([]string, 0, len(tensors))
	for n, t := range tensors {
		if t.Size > 0 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := tensors[names[i]], tensors[names[j]]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return names[i] < names[j]
	})
	for i := 1; i < len(names); i++ {
		prev, cur := tensors[names[i-1]], tensors[names[i]]
		if cur.Offset < prev.Offset+prev.Size {
			return fmt.Errorf("safetensors: %s: tensor %q: bytes [%d, %d) overlap tensor %q at [%d, %d): %w",
				path, names[i], cur.Offset, cur.Offset+cur.Size, names[i-1], prev.Offset, prev.Offset+prev.Size, ErrCorrupt)
		}
	}
	return nil
}
