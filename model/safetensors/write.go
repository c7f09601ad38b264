package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/ia3/ia3/internal/atomicfile"
)

// Tensor is one tensor to write: raw little-endian bytes of the given dtype
// and shape.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// F32Tensor packs float32 values into a Tensor. The caller keeps len(v)
// equal to the shape's product; Write checks it.
func F32Tensor(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: b}
}

// I64Tensor packs int64 values into a Tensor.
func I64Tensor(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: b}
}

// DefaultMetadata is what Write stores when given nil metadata: the marker
// transformers and PEFT write for PyTorch tensors.
func DefaultMetadata() map[string]string { return map[string]string{"format": "pt"} }

// Write saves tensors to path atomically: it writes a temporary file in the
// same directory, syncs it and renames it over path, so path never holds a
// half-written file. The layout follows the reference implementation:
// tensors ordered by element size (largest first, keeping every tensor
// naturally aligned) then by name, the header JSON padded with spaces to a
// multiple of 8 bytes. nil metadata means DefaultMetadata; an empty non-nil
// map writes no "__metadata__" entry.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	if metadata == nil {
		metadata = DefaultMetadata()
	}
	order, err := validateTensors(path, tensors)
	if err != nil {
		return err
	}
	hdr, err := encodeHeader(path, tensors, order, metadata)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		for _, i := range order {
			if _, err := w.Write(tensors[i].Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// validateTensors checks names, dtypes and byte counts and returns the
// write order as indices into tensors.
func validateTensors(path string, tensors []Tensor) ([]int, error) {
	seen := map[string]bool{}
	for _, t := range tensors {
		switch {
		case t.Name == "" || t.Name == metadataKey:
			return nil, fmt.Errorf("safetensors: write %s: tensor %q: reserved or empty name", path, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("safetensors: write %s: tensor %q: duplicate name", path, t.Name)
		}
		seen[t.Name] = true
		elem, ok := DTypeSize(t.DType)
		if !ok {
			return nil, fmt.Errorf("safetensors: write %s: tensor %q: unknown dtype %q", path, t.Name, t.DType)
		}
		n := elem
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: write %s: tensor %q: negative dimension in shape %v", path, t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("safetensors: write %s: tensor %q: shape %v of %s needs %d bytes, got %d", path, t.Name, t.Shape, t.DType, n, len(t.Data))
		}
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		sa, _ := DTypeSize(tensors[a].DType)
		sb, _ := DTypeSize(tensors[b].DType)
		if sa != sb {
			return sb - sa
		}
		if tensors[a].Name < tensors[b].Name {
			return -1
		}
		return 1
	})
	return order, nil
}

// encodeHeader renders the compact JSON header, padded to 8 bytes.
func encodeHeader(path string, tensors []Tensor, order []int, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			buf.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		sep()
		writeJSONString(&buf, metadataKey)
		buf.WriteString(":{")
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
	}
	var off int64
	for _, i := range order {
		t := tensors[i]
		sep()
		writeJSONString(&buf, t.Name)
		buf.WriteString(`:{"dtype":`)
		writeJSONString(&buf, t.DType)
		buf.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := off + int64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	if buf.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: write %s: header of %d bytes exceeds the %d-byte limit", path, buf.Len(), MaxHeaderSize)
	}
	return buf.Bytes(), nil
}

// writeJSONString appends s as a JSON string without HTML escaping, as the
// reference serializer does.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // strings always encode; invalid UTF-8 becomes U+FFFD
	buf.Truncate(buf.Len() - 1) // drop the encoder's newline
}

// writeAtomic writes path through fill atomically (package atomicfile):
// on any error path is left untouched.
func writeAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, fill); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
