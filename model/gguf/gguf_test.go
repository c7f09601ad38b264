package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata is where tools/gguf_fixtures.py writes the gguf-py files.
var testdata = filepath.Join("..", "..", "testdata", "gguf")

// expectedFile is testdata/gguf/expected.json: per file and tensor, gguf-py's
// dequantisation.
type expectedFile map[string]struct {
	Tensors map[string]struct {
		Type   string    `json:"type"`
		Shape  []int     `json:"shape"`
		SHA256 string    `json:"sha256"`
		First  []float64 `json:"first"`
	} `json:"tensors"`
}

func readExpected(t *testing.T) expectedFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testdata, "expected.json"))
	require.NoError(t, err)
	var exp expectedFile
	require.NoError(t, json.Unmarshal(raw, &exp))
	require.NotEmpty(t, exp)
	return exp
}

// TestDequantiseMatchesGGUFPy reads every file gguf-py wrote and checks each
// tensor's type, shape and dequantised values bit for bit against gguf-py's
// quants.dequantize (the SHA-256 of its float32 bytes, and the first values
// for a readable diff).
func TestDequantiseMatchesGGUFPy(t *testing.T) {
	exp := readExpected(t)
	types := map[string]bool{}
	for _, file := range slices.Sorted(func(yield func(string) bool) {
		for k := range exp {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(file, func(t *testing.T) {
			f, err := Open(filepath.Join(testdata, file))
			require.NoError(t, err)
			defer f.Close()
			want := exp[file].Tensors
			require.Len(t, f.Tensors(), len(want))
			for _, ti := range f.Tensors() {
				w, ok := want[ti.Name]
				require.True(t, ok, ti.Name)
				assert.Equal(t, w.Type, ti.Type.String(), ti.Name)
				assert.Equal(t, w.Shape, ti.Shape(), ti.Name)
				types[w.Type] = true
				v, err := f.Float32(ti.Name)
				require.NoError(t, err, ti.Name)
				for i, x := range w.First {
					require.Equal(t, float32(x), v[i], "%s[%d]", ti.Name, i)
				}
				buf := make([]byte, 4*len(v))
				for i, x := range v {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
				}
				sum := sha256.Sum256(buf)
				assert.Equal(t, w.SHA256, hex.EncodeToString(sum[:]), "%s: dequantised values differ from gguf-py's", ti.Name)
			}
		})
	}
	for _, typ := range []string{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"} {
		assert.True(t, types[typ], "no test file holds %s", typ)
	}
}

// TestMetadata checks typed metadata as gguf-py wrote it: strings, uint32,
// float32, bool and arrays, the alignment key and the tensor table.
func TestMetadata(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "llama-f16.gguf"))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, uint32(3), f.Version())
	assert.Equal(t, int64(64), f.Alignment())
	assert.Zero(t, f.DataOffset()%64)
	arch, err := f.Architecture()
	require.NoError(t, err)
	assert.Equal(t, "llama", arch)
	v, ok := f.Get("llama.block_count")
	require.True(t, ok)
	assert.Equal(t, TypeUint32, v.Type)
	n, _ := v.Uint()
	assert.Equal(t, uint64(2), n)
	v, _ = f.Get("llama.attention.layer_norm_rms_epsilon")
	assert.Equal(t, TypeFloat32, v.Type)
	x, _ := v.Float()
	assert.InDelta(t, 1e-6, x, 1e-12)
	assert.Equal(t, []string{"general.architecture", "general.name", "general.alignment"}, f.Keys()[:3])
	emb, ok := f.Tensor("token_embd.weight")
	require.True(t, ok)
	assert.Equal(t, []int64{64, 256}, emb.Dims)
	assert.Equal(t, []int{256, 64}, emb.Shape())
	assert.Equal(t, F16, emb.Type)
	assert.Equal(t, int64(256*64*2), emb.Size)

	voc, err := Open(filepath.Join(testdata, "vocab-llama.gguf"))
	require.NoError(t, err)
	defer voc.Close()
	assert.Empty(t, voc.Tensors())
	toks, ok := voc.Get("tokenizer.ggml.tokens")
	require.True(t, ok)
	assert.Equal(t, TypeArray, toks.Type)
	assert.Equal(t, TypeString, toks.Elem)
	ss, ok := toks.Strings()
	require.True(t, ok)
	assert.Equal(t, []string{"<unk>", "<s>", "</s>"}, ss[:3])
	scores, _ := voc.Get("tokenizer.ggml.scores")
	fs, ok := scores.Floats()
	require.True(t, ok)
	assert.Len(t, fs, len(ss))
	types, _ := voc.Get("tokenizer.ggml.token_type")
	is, ok := types.Ints()
	require.True(t, ok)
	assert.Equal(t, []int64{2, 3, 3}, is[:3])
	add, _ := voc.Get("tokenizer.ggml.add_bos_token")
	b, ok := add.Bool()
	assert.True(t, ok)
	assert.False(t, b)
}

// TestHFName maps llama.cpp's names to transformers' per architecture.
func TestHFName(t *testing.T) {
	for _, c := range []struct{ arch, in, want string }{
		{"llama", "token_embd.weight", "model.embed_tokens.weight"},
		{"llama", "output_norm.weight", "model.norm.weight"},
		{"llama", "output.weight", "lm_head.weight"},
		{"llama", "blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
		{"llama", "blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight"},
		{"qwen2", "blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias"},
		{"llama", "blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"},
		{"llama", "blk.0.attn_output.weight", "model.layers.0.self_attn.o_proj.weight"},
		{"qwen3", "blk.0.attn_q_norm.weight", "model.layers.0.self_attn.q_norm.weight"},
		{"qwen3", "blk.0.attn_k_norm.weight", "model.layers.0.self_attn.k_norm.weight"},
		{"llama", "blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
		{"llama", "blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight"},
		{"llama", "blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight"},
		{"llama", "blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"},
		{"gemma2", "blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight"},
		{"gemma3", "blk.0.post_attention_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
		{"gemma3", "blk.0.post_ffw_norm.weight", "model.layers.0.post_feedforward_layernorm.weight"},
		{"llama", "blk.0.post_ffw_norm.weight", ""},
		{"llama", "blk.x.attn_q.weight", ""},
		{"llama", "rope_freqs.weight", ""},
	} {
		got, ok := HFName(c.arch, c.in)
		assert.Equal(t, c.want != "", ok, c.in)
		assert.Equal(t, c.want, got, "%s %s", c.arch, c.in)
	}
}

// TestUnpermuteRows inverts convert_hf_to_gguf.py's LlamaModel.permute:
// with 2 heads of 4 rows, GGUF rows (0 2 1 3 | 4 6 5 7) are HF rows 0..7.
func TestUnpermuteRows(t *testing.T) {
	ti := TensorInfo{Dims: []int64{2, 8}}
	in := []int{0, 0, 2, 2, 1, 1, 3, 3, 4, 4, 6, 6, 5, 5, 7, 7}
	got, err := unpermuteRows(in, ti, 2)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}, got)
	bias := TensorInfo{Dims: []int64{8}}
	got, err = unpermuteRows([]int{0, 2, 1, 3, 4, 6, 5, 7}, bias, 2)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7}, got)
	_, err = unpermuteRows([]int{0, 1, 2}, TensorInfo{Dims: []int64{3}}, 2)
	assert.ErrorContains(t, err, "rotary pairs")
}

// TestHFConfig checks the config built from gguf-py's metadata against the
// fixture's config.json values.
func TestHFConfig(t *testing.T) {
	for _, c := range []struct {
		file string
		want map[string]any
	}{
		{"llama-q4_0.gguf", map[string]any{"model_type": "llama", "hidden_size": int64(64), "num_hidden_layers": int64(2),
			"intermediate_size": int64(128), "num_attention_heads": int64(4), "num_key_value_heads": int64(2), "head_dim": int64(16),
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "vocab_size": int64(256), "tie_word_embeddings": false,
			"max_position_embeddings": int64(64), "attention_bias": false}},
		{"qwen2-f32.gguf", map[string]any{"model_type": "qwen2", "tie_word_embeddings": true, "vocab_size": int64(256)}},
		{"qwen3-f32.gguf", map[string]any{"model_type": "qwen3", "head_dim": int64(16), "hidden_size": int64(32), "rope_theta": 1e6}},
		{"gemma-f32.gguf", map[string]any{"model_type": "gemma", "hidden_act": "gelu_pytorch_tanh", "num_key_value_heads": int64(1)}},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := Open(filepath.Join(testdata, c.file))
			require.NoError(t, err)
			defer f.Close()
			cfg, err := f.HFConfig()
			require.NoError(t, err)
			for k, v := range c.want {
				assert.Equal(t, v, cfg[k], k)
			}
		})
	}
}

// TestSplitModel opens the Q8_0 llama that gguf-py split into three files
// from any of its parts: the first part's metadata, all 21 tensors, each
// dequantising as llama-q8_0.gguf's same tensor does (gguf-py's values).
func TestSplitModel(t *testing.T) {
	exp := readExpected(t)["llama-q8_0.gguf"].Tensors
	for i := 1; i <= 3; i++ {
		name := filepath.Join(testdata, fmt.Sprintf("llama-split-%05d-of-00003.gguf", i))
		f, err := Open(name)
		require.NoError(t, err)
		assert.Equal(t, 3, f.Parts())
		arch, err := f.Architecture()
		require.NoError(t, err)
		assert.Equal(t, "llama", arch)
		require.Len(t, f.Tensors(), len(exp))
		for _, ti := range f.Tensors() {
			v, err := f.Float32(ti.Name)
			require.NoError(t, err)
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
			}
			sum := sha256.Sum256(buf)
			assert.Equal(t, exp[ti.Name].SHA256, hex.EncodeToString(sum[:]), ti.Name)
		}
		require.NoError(t, f.Close())
	}

	// A missing part is an error naming it.
	dir := t.TempDir()
	for _, i := range []int{1, 3} {
		raw, err := os.ReadFile(filepath.Join(testdata, fmt.Sprintf("llama-split-%05d-of-00003.gguf", i)))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("m-%05d-of-00003.gguf", i)), raw, 0o644))
	}
	_, err := Open(filepath.Join(dir, "m-00001-of-00003.gguf"))
	assert.ErrorContains(t, err, "part 2 of 3")
	assert.ErrorContains(t, err, "m-00002-of-00003.gguf")
	// Renamed so that the name no longer says which part it is.
	raw, err := os.ReadFile(filepath.Join(testdata, "llama-split-00001-of-00003.gguf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "renamed.gguf"), raw, 0o644))
	_, err = Open(filepath.Join(dir, "renamed.gguf"))
	assert.ErrorContains(t, err, "split.count is 3 but the name is not NAME-00001-of-00003.gguf")
}
