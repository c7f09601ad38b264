package gguf

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/ia3/ia3/model/safetensors"
)

// Shard presents a GGUF model's tensors under transformers' names and in
// transformers' layouts, as a safetensors.Shard, so that the model package
// loads it as it loads a checkpoint file. F32 and F16/BF16 tensors keep
// their type; quantised ones are dequantised to F32 when read. Llama's q/k
// rows are put back in Hugging Face's order and Gemma's norms lose the 1
// the converter added. Mixtral's stacked expert tensors are served as one
// weight per expert.
type Shard struct {
	f      *File
	arch   string
	heads  int64
	kv     int64
	names  []string
	source map[string]TensorInfo // HF name → GGUF tensor
	// expert gives, for a name served from a stacked expert tensor, the
	// expert's index in it.
	expert map[string]int64
}

// stackedExperts matches llama.cpp's stacked Mixtral expert tensors,
// ggml dims [in, out, experts] (shape [experts, out, in]):
// blk.N.ffn_gate_exps.weight holds every expert's w1, ffn_up_exps w3 and
// ffn_down_exps w2, as convert_hf_to_gguf.py stacks them.
var stackedExperts = regexp.MustCompile(`^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$`)

// maxStackedExperts bounds the experts of a stacked tensor (far above
// model.MaxExperts), so that a hostile tensor table cannot ask for
// millions of names.
const maxStackedExperts = 1 << 12

// ignoredTensors are GGUF tensors with no parameter: rope_freqs holds
// Llama 3's rotary factors, read into the config.
var ignoredTensors = map[string]bool{"rope_freqs.weight": true}

// OpenShard opens the GGUF file at path as a Shard (its config is
// f.HFConfig()). A tensor with no transformers parameter is an error
// naming it.
func OpenShard(path string) (*Shard, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	s, err := NewShard(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// NewShard wraps an open file; closing the Shard closes it.
func NewShard(f *File) (*Shard, error) {
	arch, err := f.Architecture()
	if err != nil {
		return nil, err
	}
	_, class, _, err := f.model(arch)
	if err != nil {
		return nil, err
	}
	if n, err := f.uintKey("split.count", 1); err != nil {
		return nil, err
	} else if n > 1 && int64(f.Parts()) != n {
		return nil, fmt.Errorf("gguf: %s: one of %d split files read alone; open it with gguf.Open to read every part", f.path, n)
	}
	heads, err := f.uintKey(arch+".attention.head_count", -1)
	if err != nil {
		return nil, err
	}
	kv, err := f.uintKey(arch+".attention.head_count_kv", heads)
	if err != nil {
		return nil, err
	}
	s := &Shard{f: f, arch: arch, heads: heads, kv: kv, source: map[string]TensorInfo{}, expert: map[string]int64{}}
	for _, t := range f.tensors {
		if ignoredTensors[t.Name] {
			continue
		}
		if !t.Type.Dequantisable() {
			return nil, fmt.Errorf("gguf: %s: tensor %q has type %s; supported: %s", f.path, t.Name, t.Type, supportedTypes)
		}
		if m := stackedExperts.FindStringSubmatch(t.Name); m != nil {
			if len(t.Dims) != 3 || t.Dims[2] > maxStackedExperts {
				return nil, fmt.Errorf("gguf: %s: stacked expert tensor %q has shape %v; want [experts ≤ %d, out, in]",
					f.path, t.Name, t.Shape(), maxStackedExperts)
			}
			for e := int64(0); e < t.Dims[2]; e++ {
				hf := expertParam(m[1], e, m[2])
				s.source[hf], s.expert[hf] = t, e
			}
			continue
		}
		hf, ok := HFName(arch, t.Name)
		if !ok {
			return nil, fmt.Errorf("gguf: %s: tensor %q has no Hugging Face %s parameter", f.path, t.Name, class)
		}
		s.source[hf] = t
	}
	s.names = slices.Sorted(maps.Keys(s.source))
	return s, nil
}

// File returns the underlying GGUF file.
func (s *Shard) File() *File { return s.f }

// Path returns the GGUF file's path.
func (s *Shard) Path() string { return s.f.path }

// Names returns the transformers parameter names, sorted.
func (s *Shard) Names() []string { return slices.Clone(s.names) }

// Metadata returns the file's format, for the checkpoint's metadata.
func (s *Shard) Metadata() map[string]string { return map[string]string{"format": "gguf"} }

// Close closes the GGUF file.
func (s *Shard) Close() error { return s.f.Close() }

// dtype is the safetensors dtype a tensor is served in.
func (s *Shard) dtype(name string, t TensorInfo) string {
	switch {
	case t.Type == F16 && !s.adjusted(name):
		return safetensors.F16
	case t.Type == BF16 && !s.adjusted(name):
		return safetensors.BF16
	}
	return safetensors.F32
}

// adjusted reports whether the tensor's values change on the way
// (Gemma's norms), so that it is served as F32.
func (s *Shard) adjusted(name string) bool {
	return strings.HasPrefix(s.arch, "gemma") && strings.HasSuffix(name, "norm.weight")
}

// Info returns a tensor's served dtype and its transformers shape.
func (s *Shard) Info(name string) (safetensors.TensorInfo, bool) {
	t, ok := s.source[name]
	if !ok {
		return safetensors.TensorInfo{}, false
	}
	dt := s.dtype(name, t)
	size, _ := safetensors.DTypeSize(dt)
	shape, n := t.Shape(), t.NumElements()
	if _, ok := s.expert[name]; ok {
		shape, n = shape[1:], n/t.Dims[2]
	}
	return safetensors.TensorInfo{DType: dt, Shape: shape, Size: n * int64(size)}, true
}

// raw returns the stored bytes served as name: the whole tensor, or one
// expert's rows of a stacked expert tensor (rows are whole quantisation
// blocks, so each expert's is a contiguous run), with the number of
// elements they hold.
func (s *Shard) raw(name string, t TensorInfo) ([]byte, int64, error) {
	e, ok := s.expert[name]
	if !ok {
		b, err := s.f.Raw(t.Name)
		return b, t.NumElements(), err
	}
	n := t.Dims[0] * t.Dims[1]
	per := n / t.Type.BlockSize() * t.Type.TypeSize()
	src := s.f
	if t.part > 0 {
		src = s.f.parts[t.part-1]
	}
	buf := make([]byte, per)
	off := src.dataOffset + t.Offset + e*per
	if _, err := src.ra.ReadAt(buf, off); err != nil {
		return nil, 0, fmt.Errorf("gguf: %s: tensor %q, expert %d: read %d bytes at %d: %w", src.path, t.Name, e, per, off, err)
	}
	return buf, n, nil
}

// permutation returns the number of heads whose rows convert_hf_to_gguf.py
// interleaved for llama.cpp's rotary layout (LlamaModel.permute), or 0.
func (s *Shard) permutation(name string) int64 {
	if s.arch != "llama" && s.arch != "mistral" {
		return 0
	}
	switch {
	case strings.HasSuffix(name, ".self_attn.q_proj.weight"), strings.HasSuffix(name, ".self_attn.q_proj.bias"):
		return s.heads
	case strings.HasSuffix(name, ".self_attn.k_proj.weight"), strings.HasSuffix(name, ".self_attn.k_proj.bias"):
		return s.kv
	}
	return 0
}

// Float32 returns a tensor dequantised and in transformers' layout.
func (s *Shard) Float32(name string) ([]float32, error) {
	t, ok := s.source[name]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor for %q", s.f.path, name)
	}
	raw, n, err := s.raw(name, t)
	if err != nil {
		return nil, err
	}
	v, err := Dequantize(t.Type, raw, n)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", s.f.path, t.Name, err)
	}
	if heads := s.permutation(name); heads > 0 {
		if v, err = unpermuteRows(v, t, heads); err != nil {
			return nil, fmt.Errorf("gguf: %s: tensor %q: %w", s.f.path, t.Name, err)
		}
	}
	if s.adjusted(name) {
		for i := range v {
			v[i]--
		}
	}
	return v, nil
}

// Bytes returns a tensor's little-endian bytes in its served dtype.
func (s *Shard) Bytes(name string) ([]byte, error) {
	t, ok := s.source[name]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor for %q", s.f.path, name)
	}
	if dt := s.dtype(name, t); dt != safetensors.F32 {
		raw, _, err := s.raw(name, t)
		if err != nil {
			return nil, err
		}
		if heads := s.permutation(name); heads > 0 {
			if raw, err = unpermuteRows(raw, t, heads); err != nil {
				return nil, fmt.Errorf("gguf: %s: tensor %q: %w", s.f.path, t.Name, err)
			}
		}
		return raw, nil
	}
	v, err := s.Float32(name)
	if err != nil {
		return nil, err
	}
	return float32Bytes(v), nil
}

// littleEndianHost reports whether float32 values are stored as
// safetensors bytes are, so that a dequantised tensor's memory can be
// handed on without a copy.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32Bytes returns v's little-endian bytes: v's own memory on a
// little-endian host (v is not used afterwards), else a copy.
func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	if littleEndianHost {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// Int64 is not supported: GGUF models hold no integer parameters.
func (s *Shard) Int64(name string) ([]int64, error) {
	return nil, fmt.Errorf("gguf: %s: tensor %q is not an integer tensor", s.f.path, name)
}

// unpermuteRows undoes LlamaModel.permute on the rows of t held in v (as
// values or as raw bytes): within each of heads groups of rows, GGUF row
// 2i+j holds Hugging Face row j·half+i. A 1-D tensor (a bias) has one
// element per row.
func unpermuteRows[T any](v []T, t TensorInfo, heads int64) ([]T, error) {
	rows := t.NumElements() / t.Dims[0]
	if len(t.Dims) == 1 {
		rows = t.Dims[0]
	}
	if heads <= 0 || rows%(2*heads) != 0 || int64(len(v))%rows != 0 {
		return nil, fmt.Errorf("%d rows do not split into %d heads of rotary pairs", rows, heads)
	}
	width := int64(len(v)) / rows
	per := rows / heads
	half := per / 2
	out := make([]T, len(v))
	for h := int64(0); h < heads; h++ {
		for i := int64(0); i < half; i++ {
			for j := int64(0); j < 2; j++ {
				src := (h*per + 2*i + j) * width
				dst := (h*per + j*half + i) * width
				copy(out[dst:dst+width], v[src:src+width])
			}
		}
	}
	return out, nil
}
