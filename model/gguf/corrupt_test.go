package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// builder assembles GGUF bytes field by field, for the malformed inputs
// below (the well-formed test files all come from gguf-py).
type builder struct{ bytes.Buffer }

func (b *builder) u32(v uint32) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) u64(v uint64) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) str(s string) *builder {
	b.u64(uint64(len(s)))
	b.WriteString(s)
	return b
}

// header starts a v3 file with the given counts.
func header(tensors, kvs uint64) *builder {
	b := &builder{}
	b.WriteString("GGUF")
	return b.u32(3).u64(tensors).u64(kvs)
}

// tensor appends a tensor table entry.
func (b *builder) tensor(name string, typ uint32, off uint64, dims ...uint64) *builder {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(typ).u64(off)
}

// pad appends zeros up to a multiple of 32 and then n data bytes.
func (b *builder) data(n int) *builder {
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, n))
	return b
}

// TestCorruptInputs: each malformed file gives an ErrCorrupt error naming
// the field or tensor at fault.
func TestCorruptInputs(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic needs 4 bytes"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"version 1", header(0, 0).Bytes()[:4:4], "version needs 4 bytes"},
		{"old version", append([]byte("GGUF"), 1, 0, 0, 0), "version 1 is not supported"},
		{"big endian", append([]byte("GGUF"), 0, 0, 0, 3), "big-endian"},
		{"tensor count past the limit", append(header(MaxTensors+1, 0).Bytes(), make([]byte, 24*(MaxTensors+1))...), "tensor count is 1048577, more than the limit of 1048576"},
		{"array past the limit", append(header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(MaxArrayLen+1).Bytes(), make([]byte, MaxArrayLen+1)...), "metadata k length is 16777217, more than the limit"},
		{"huge tensor count", (&builder{}).withMagic().u32(3).u64(1 << 60).u64(0).Bytes(), "tensor count is 1152921504606846976"},
		{"huge kv count", header(0, 1<<40).Bytes(), "metadata count"},
		{"huge key", header(0, 1).u64(1 << 50).data(64).Bytes(), "metadata key 0 length"},
		{"duplicate key", header(0, 2).str("a").u32(uint32(TypeUint32)).u32(1).str("a").u32(uint32(TypeUint32)).u32(1).Bytes(), `metadata key "a" appears twice`},
		{"unknown value type", header(0, 1).str("k").u32(99).u64(0).Bytes(), "metadata k has unknown value type 99"},
		{"huge string", header(0, 1).str("k").u32(uint32(TypeString)).u64(1 << 62).Bytes(), "metadata k length"},
		{"huge array", header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1 << 40).Bytes(), "metadata k length"},
		{"array bad elem", header(0, 1).str("k").u32(uint32(TypeArray)).u32(77).u64(1).Bytes(), "unknown element type 77"},
		{"bad bool", header(0, 1).str("k").u32(uint32(TypeBool)).u32(7).Bytes(), "bool byte is 7"},
		{"bad alignment type", header(0, 1).str("general.alignment").u32(uint32(TypeUint64)).u64(32).Bytes(), "general.alignment must be a uint32 power of two"},
		{"alignment not power of two", header(0, 1).str("general.alignment").u32(uint32(TypeUint32)).u32(48).Bytes(), "power of two"},
		{"five dims", header(1, 0).tensor("w", 0, 0, 1, 1, 1, 1, 1).Bytes(), `tensor "w" has 5 dimensions`},
		{"zero dim", header(1, 0).tensor("w", 0, 0, 4, 0).Bytes(), `tensor "w" dimension 1 is 0`},
		{"unknown type", header(1, 0).tensor("w", 200, 0, 4).data(16).Bytes(), `tensor "w" has unknown ggml type 200`},
		{"partial block", header(1, 0).tensor("w", uint32(Q8_0), 0, 16).data(64).Bytes(), `tensor "w" row length 16 is not a multiple of Q8_0's block size 32`},
		{"element overflow", header(1, 0).tensor("w", 0, 0, 1<<40, 1<<40).Bytes(), `tensor "w" has too many elements`},
		{"past the end", header(1, 0).tensor("w", 0, 0, 64).data(16).Bytes(), `tensor "w" (256 bytes at data offset 0) runs past the end`},
		{"misaligned", header(1, 0).tensor("w", 0, 4, 4).data(64).Bytes(), `tensor "w" offset 4 is not a multiple of the alignment 32`},
		{"overlap", header(2, 0).tensor("a", 0, 0, 16).tensor("b", 0, 32, 16).data(128).Bytes(), `tensors "a" and "b" overlap`},
		{"duplicate tensor", header(2, 0).tensor("a", 0, 0, 8).tensor("a", 0, 32, 8).data(64).Bytes(), `tensor "a" appears twice`},
		{"truncated table", header(1, 0).str("w").u32(2).u64(4).Bytes()[:48], `tensor "w" dimension 1 needs 8 bytes, 3 left`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.data), int64(len(c.data)), "bad.gguf")
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "bad.gguf")
			if !errors.Is(err, ErrCorrupt) {
				assert.Contains(t, err.Error(), "needs", "a read error names the field")
			}
		})
	}
}

func (b *builder) withMagic() *builder {
	b.WriteString("GGUF")
	return b
}

// TestNestedArrays reads an array of arrays and bounds the nesting.
func TestNestedArrays(t *testing.T) {
	b := header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(2)
	b.u32(uint32(TypeArray)).u32(uint32(TypeInt16)).u64(2)
	binary.Write(&b.Buffer, binary.LittleEndian, []int16{-1, 2})
	b.u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1).str("x")
	f, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()), "nested.gguf")
	require.NoError(t, err)
	v, _ := f.Get("k")
	assert.Equal(t, 2, v.Len())
	assert.Equal(t, `[[-1, 2], ["x"]]`, v.String())

	deep := header(0, 1).str("k")
	for range maxNesting + 1 {
		deep.u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1)
	}
	_, err = Read(bytes.NewReader(deep.Bytes()), int64(deep.Len()), "deep.gguf")
	assert.ErrorContains(t, err, "nested deeper")
}

// TestDequantizeErrors: sizes that do not match the type are refused.
func TestDequantizeErrors(t *testing.T) {
	_, err := Dequantize(Q4_K, make([]byte, 10), 256)
	assert.ErrorContains(t, err, "10 bytes for 256 Q4_K elements, want 144")
	_, err = Dequantize(Q8_0, make([]byte, 34), 16)
	assert.ErrorContains(t, err, "not a whole number of Q8_0 blocks")
	_, err = Dequantize(IQ2_XXS, make([]byte, 66), 256)
	assert.ErrorContains(t, err, "IQ2_XXS is not supported")
	_, err = Dequantize(Type(99), nil, 0)
	assert.ErrorContains(t, err, "unknown ggml type 99")
}

// FuzzRead feeds mutations of gguf-py's files (whole and cut short) to the
// reader: any input gives a file or an error, never a panic, and every
// tensor of a file that parses reads back or fails cleanly.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"vocab-llama.gguf", "llama-q4_0.gguf", "kquant-q6_k.gguf"} {
		raw, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw[:min(len(raw), 4096)])
		f.Add(raw[:min(len(raw), 300)])
	}
	f.Add(header(1, 0).tensor("w", uint32(Q6_K), 0, 256).data(210).Bytes())
	f.Add(stackedExpertsFile().Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.gguf")
		if err != nil {
			return
		}
		for _, ti := range g.Tensors() {
			if ti.Size > int64(len(data)) {
				t.Fatalf("tensor %q size %d past the %d-byte input", ti.Name, ti.Size, len(data))
			}
			if ti.Type.Dequantisable() {
				if _, err := g.Float32(ti.Name); err != nil {
					t.Fatalf("tensor %q inside the file fails to dequantise: %v", ti.Name, err)
				}
			}
		}
		_, _ = g.HFConfig()
		if s, err := NewShard(g); err == nil {
			for _, n := range s.Names() {
				_, _ = s.Bytes(n)
			}
		}
	})
}

func (b *builder) kvStr(key, v string) *builder { return b.str(key).u32(uint32(TypeString)).str(v) }
func (b *builder) kvU32(key string, v uint32) *builder {
	return b.str(key).u32(uint32(TypeUint32)).u32(v)
}
func (b *builder) kvF32(key string, v float32) *builder {
	b.str(key).u32(uint32(TypeFloat32))
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

// llamaHeader writes the metadata of a 2-layer llama with extra key/values
// (counted in extraKVs) to follow, and tensors table entries after those.
func llamaHeader(tensors, extraKVs uint64) *builder {
	return header(tensors, 7+extraKVs).kvStr("general.architecture", "llama").
		kvU32("llama.embedding_length", 32).kvU32("llama.block_count", 2).kvU32("llama.feed_forward_length", 64).
		kvU32("llama.attention.head_count", 2).kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5).
		kvU32("llama.vocab_size", 10)
}

// TestHFConfigFromMetadata covers the metadata cases the gguf-py files do
// not: rope scaling, per-layer arrays and refusals, each naming the key.
func TestHFConfigFromMetadata(t *testing.T) {
	parse := func(b *builder) (map[string]any, error) {
		f, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()), "meta.gguf")
		require.NoError(t, err)
		return f.HFConfig()
	}
	cfg, err := parse(llamaHeader(0, 2).kvStr("llama.rope.scaling.type", "linear").kvF32("llama.rope.scaling.factor", 4))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"rope_type": "linear", "factor": 4.0}, cfg["rope_scaling"])
	assert.Equal(t, 1e-5, cfg["rms_norm_eps"])
	assert.Equal(t, int64(16), cfg["head_dim"])

	cfg, err = parse(llamaHeader(0, 3).kvU32("tokenizer.ggml.eos_token_id", 7).kvU32("tokenizer.ggml.eot_token_id", 9).
		kvU32("tokenizer.ggml.bos_token_id", 1))
	require.NoError(t, err)
	assert.Equal(t, []any{int64(7), int64(9)}, cfg["eos_token_id"], "generation stops at EOS and end of turn")
	assert.Equal(t, int64(1), cfg["bos_token_id"])

	_, err = parse(llamaHeader(0, 1).kvStr("llama.rope.scaling.type", "yarn"))
	assert.ErrorContains(t, err, `rope scaling "yarn" is not supported`)

	heads := llamaHeader(0, 1).str("llama.attention.head_count_kv").u32(uint32(TypeArray)).u32(uint32(TypeUint32)).u64(2).u32(1).u32(2)
	_, err = parse(heads)
	assert.ErrorContains(t, err, "llama.attention.head_count_kv differs between layers")
	same := llamaHeader(0, 1).str("llama.attention.head_count_kv").u32(uint32(TypeArray)).u32(uint32(TypeUint32)).u64(2).u32(1).u32(1)
	cfg, err = parse(same)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cfg["num_key_value_heads"])

	_, err = parse(header(0, 1).kvStr("general.architecture", "falcon"))
	assert.ErrorContains(t, err, `architecture "falcon" is not supported`)
	_, err = parse(header(0, 1).kvStr("general.architecture", "llama"))
	assert.ErrorContains(t, err, "metadata llama.embedding_length is missing")
	_, err = parse(header(0, 2).kvStr("general.architecture", "llama").kvStr("llama.embedding_length", "big"))
	assert.ErrorContains(t, err, "llama.embedding_length is string")

	split := llamaHeader(0, 1).str("split.count").u32(uint32(TypeUint16)).u32(3)
	sf, err := Read(bytes.NewReader(split.Bytes()), int64(split.Len()), "part.gguf")
	require.NoError(t, err)
	_, err = NewShard(sf)
	assert.ErrorContains(t, err, "one of 3 split files read alone")

	// rope_freqs that are not Llama 3's factors are refused, not ignored.
	bad := llamaHeader(1, 0).tensor("rope_freqs.weight", uint32(F32), 0, 8)
	bad.data(0)
	binary.Write(&bad.Buffer, binary.LittleEndian, []float32{1, 1, 2, 3, 5, 8, 13, 21})
	_, err = parse(bad)
	assert.ErrorContains(t, err, "rope_freqs.weight[")
	assert.ErrorContains(t, err, "not Llama 3's factor")
}

// TestDequantizeParallel: a tensor large enough to be split across
// goroutines decodes to exactly the block-by-block result.
func TestDequantizeParallel(t *testing.T) {
	for typ, fn := range blockDecoders {
		t.Run(typ.String(), func(t *testing.T) {
			blocks := int64(parallelBlocks + 3)
			raw := make([]byte, blocks*typ.TypeSize())
			for i := range raw {
				raw[i] = byte(i*131 + i/7)
			}
			got, err := Dequantize(typ, raw, blocks*typ.BlockSize())
			require.NoError(t, err)
			want := make([]float32, len(got))
			for b := int64(0); b < blocks; b++ {
				fn(raw[b*typ.TypeSize():(b+1)*typ.TypeSize()], want[b*typ.BlockSize():(b+1)*typ.BlockSize()])
			}
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Fatalf("element %d: %g, sequential %g", i, got[i], want[i])
				}
			}
		})
	}
}

// TestVersion2: a version 2 file (the same layout as 3 for little-endian
// files) reads as gguf-py's version 3 file does.
func TestVersion2(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdata, "llama-q4_0.gguf"))
	require.NoError(t, err)
	v2 := bytes.Clone(raw)
	binary.LittleEndian.PutUint32(v2[4:], 2)
	f, err := Read(bytes.NewReader(v2), int64(len(v2)), "v2.gguf")
	require.NoError(t, err)
	assert.Equal(t, uint32(2), f.Version())
	g, err := Read(bytes.NewReader(raw), int64(len(raw)), "v3.gguf")
	require.NoError(t, err)
	assert.Equal(t, g.Tensors(), f.Tensors())
	a, err := f.Float32("blk.1.ffn_down.weight")
	require.NoError(t, err)
	b, err := g.Float32("blk.1.ffn_down.weight")
	require.NoError(t, err)
	assert.Equal(t, b, a)
}

// TestSummary counts tensor types and says which loading dequantises and
// which it refuses.
func TestSummary(t *testing.T) {
	b := llamaHeader(3, 0).tensor("blk.0.attn_q.weight", uint32(IQ2_XXS), 0, 256).
		tensor("blk.0.attn_k.weight", uint32(Q4_K), 96, 256).tensor("blk.0.attn_norm.weight", uint32(F32), 256, 4).data(272)
	f, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()), "s.gguf")
	require.NoError(t, err)
	s := f.Summary()
	assert.Equal(t, map[string]int{"IQ2_XXS": 1, "Q4_K": 1, "F32": 1}, s.Types)
	assert.Equal(t, []string{"Q4_K"}, s.Dequantised)
	assert.Equal(t, []string{"IQ2_XXS"}, s.Unsupported)
	assert.Equal(t, int64(66+144+16), s.TensorBytes)
	_, err = NewShard(f)
	assert.ErrorContains(t, err, `tensor "blk.0.attn_q.weight" has type IQ2_XXS; supported: F32`)
}
