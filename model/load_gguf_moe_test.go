package model

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/gguf"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// testGGUFTensor is one tensor of a GGUF file written by writeTestGGUF:
// shape in row-major order (as torch and numpy give it) and its stored
// bytes in ggml type typ.
type testGGUFTensor struct {
	name  string
	shape []int
	typ   gguf.Type
	data  []byte
}

// writeTestGGUF writes a GGUF version 3 file as the format's
// specification lays it out (header, metadata, tensor table, data aligned
// to 32 bytes). It is the tests' own writer, independent of package
// gguf's reader: gguf-py, which writes the files in testdata/gguf, was not
// available where the Mixtral tests were written (tools/gguf_fixtures.py
// writes the same case with it). Metadata values are uint32, float32 or
// string.
func writeTestGGUF(t *testing.T, path string, kv [][2]any, tensors []testGGUFTensor) {
	t.Helper()
	const align = 32
	var b bytes.Buffer
	le := func(v any) { require.NoError(t, binary.Write(&b, binary.LittleEndian, v)) }
	str := func(s string) {
		le(uint64(len(s)))
		b.WriteString(s)
	}
	b.WriteString("GGUF")
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(len(kv)))
	for _, e := range kv {
		str(e[0].(string))
		switch v := e[1].(type) {
		case uint32:
			le(uint32(4))
			le(v)
		case float32:
			le(uint32(6))
			le(v)
		case string:
			le(uint32(8))
			str(v)
		default:
			t.Fatalf("metadata %v: type %T", e[0], v)
		}
	}
	off := 0
	for _, x := range tensors {
		str(x.name)
		le(uint32(len(x.shape)))
		for i := len(x.shape) - 1; i >= 0; i-- {
			le(uint64(x.shape[i]))
		}
		le(uint32(x.typ))
		le(uint64(off))
		off += (len(x.data) + align - 1) / align * align
	}
	pad := func() { b.Write(make([]byte, (align-b.Len()%align)%align)) }
	pad()
	for _, x := range tensors {
		b.Write(x.data)
		pad()
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// ggufStore returns v stored as ggml type typ and the float32 values a
// reader gets back: F32 as is, F16 rounded to half, Q8_0 as ggml's
// quantize_row_q8_0_ref writes it (per 32 values d = max|x|/127 stored as
// half, q = round(x/d)), its values half(d)·q.
func ggufStore(t *testing.T, v []float32, typ gguf.Type) ([]byte, []float32) {
	t.Helper()
	var b bytes.Buffer
	back := make([]float32, len(v))
	switch typ {
	case gguf.F32:
		copy(back, v)
		require.NoError(t, binary.Write(&b, binary.LittleEndian, v))
	case gguf.F16:
		for i, x := range v {
			h := quant.Float32ToHalf(x)
			back[i] = quant.HalfToFloat32(h)
			require.NoError(t, binary.Write(&b, binary.LittleEndian, h))
		}
	case gguf.Q8_0:
		require.Zero(t, len(v)%32)
		for blk := 0; blk < len(v); blk += 32 {
			amax := float32(0)
			for _, x := range v[blk : blk+32] {
				amax = max(amax, float32(math.Abs(float64(x))))
			}
			d := amax / 127
			id := float32(0)
			if d != 0 {
				id = 1 / d
			}
			h := quant.Float32ToHalf(d)
			require.NoError(t, binary.Write(&b, binary.LittleEndian, h))
			for i, x := range v[blk : blk+32] {
				q := int8(math.Round(float64(x * id)))
				b.WriteByte(byte(q))
				back[blk+i] = quant.HalfToFloat32(h) * float32(q)
			}
		}
	default:
		t.Fatalf("type %s", typ)
	}
	return b.Bytes(), back
}

// permuteRows is convert_hf_to_gguf.py's LlamaModel.permute of a q or k
// projection [heads·per, cols]: within each head, row j·per/2 + i moves to
// 2i + j, llama.cpp's rotary layout.
func permuteRows(v []float32, heads, cols int) []float32 {
	rows := len(v) / cols
	per := rows / heads
	out := make([]float32, len(v))
	for h := 0; h < heads; h++ {
		for i := 0; i < per/2; i++ {
			for j := 0; j < 2; j++ {
				copy(out[(h*per+2*i+j)*cols:], v[(h*per+j*per/2+i)*cols:(h*per+j*per/2+i+1)*cols])
			}
		}
	}
	return out
}

// mixtralGGUFRaw is the config.json of the tiny Mixtral the GGUF tests
// convert: rows of 32 and 64 (whole Q8_0 blocks), 3 experts, top 2.
var mixtralGGUFRaw = map[string]any{"model_type": "mixtral", "architectures": []any{"MixtralForCausalLM"},
	"vocab_size": 40, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
	"num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 1e6,
	"num_local_experts": 3, "num_experts_per_tok": 2, "tie_word_embeddings": false, "sliding_window": nil}

// mixtralGGUF converts random Mixtral weights hf (transformers' names and
// layouts) to a GGUF file as convert_hf_to_gguf.py does: llama.cpp names,
// architecture llama with expert_count and expert_used_count, q/k rows
// permuted, the experts stacked into blk.N.ffn_{gate,up,down}_exps
// [experts, out, in] (or, legacy, one blk.N.ffn_gate.E.weight each). The
// attention and expert matrices are stored as typ, the rest F32. It
// returns the weights as the file holds them, under transformers' names
// and layouts, for the safetensors twin.
func mixtralGGUF(t *testing.T, path string, hf map[string][]float32, typ gguf.Type, legacy bool) map[string][]float32 {
	t.Helper()
	H, I, V, E := 32, 64, 40, 3
	stored := map[string][]float32{}
	var tensors []testGGUFTensor
	add := func(name string, shape []int, typ gguf.Type, v []float32, back func([]float32)) {
		data, got := ggufStore(t, v, typ)
		tensors = append(tensors, testGGUFTensor{name, shape, typ, data})
		back(got)
	}
	keep := func(hfName string) func([]float32) { return func(v []float32) { stored[hfName] = v } }
	add("token_embd.weight", []int{V, H}, gguf.F32, hf["model.embed_tokens.weight"], keep("model.embed_tokens.weight"))
	for l := 0; l < 2; l++ {
		p, g := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("blk.%d.", l)
		add(g+"attn_norm.weight", []int{H}, gguf.F32, hf[p+"input_layernorm.weight"], keep(p+"input_layernorm.weight"))
		for _, a := range []struct {
			gg, hf string
			rows   int
			heads  int
		}{{"attn_q", "q_proj", 32, 4}, {"attn_k", "k_proj", 16, 2}, {"attn_v", "v_proj", 16, 0}, {"attn_output", "o_proj", 32, 0}} {
			name := p + "self_attn." + a.hf + ".weight"
			v := hf[name]
			if a.heads > 0 {
				// The file's values, permuted back for the twin.
				add(g+a.gg+".weight", []int{a.rows, 32}, typ, permuteRows(v, a.heads, 32), func(got []float32) {
					per := a.rows / a.heads
					inv := make([]float32, len(got))
					for h := 0; h < a.heads; h++ {
						for i := 0; i < per/2; i++ {
							for j := 0; j < 2; j++ {
								copy(inv[(h*per+j*per/2+i)*32:], got[(h*per+2*i+j)*32:(h*per+2*i+j+1)*32])
							}
						}
					}
					stored[name] = inv
				})
				continue
			}
			add(g+a.gg+".weight", []int{a.rows, 32}, typ, v, keep(name))
		}
		add(g+"ffn_norm.weight", []int{H}, gguf.F32, hf[p+"post_attention_layernorm.weight"], keep(p+"post_attention_layernorm.weight"))
		moe := p + "block_sparse_moe."
		add(g+"ffn_gate_inp.weight", []int{E, H}, gguf.F32, hf[moe+"gate.weight"], keep(moe+"gate.weight"))
		for _, x := range []struct {
			gg, w    string
			out, in_ int
		}{{"gate", "w1", I, H}, {"up", "w3", I, H}, {"down", "w2", H, I}} {
			expert := func(e int) string { return fmt.Sprintf("%sexperts.%d.%s.weight", moe, e, x.w) }
			if legacy {
				for e := 0; e < E; e++ {
					add(fmt.Sprintf("%sffn_%s.%d.weight", g, x.gg, e), []int{x.out, x.in_}, typ, hf[expert(e)], keep(expert(e)))
				}
				continue
			}
			var all []float32
			for e := 0; e < E; e++ {
				all = append(all, hf[expert(e)]...)
			}
			add(g+"ffn_"+x.gg+"_exps.weight", []int{E, x.out, x.in_}, typ, all, func(got []float32) {
				n := x.out * x.in_
				for e := 0; e < E; e++ {
					stored[expert(e)] = got[e*n : (e+1)*n]
				}
			})
		}
	}
	add("output_norm.weight", []int{H}, gguf.F32, hf["model.norm.weight"], keep("model.norm.weight"))
	add("output.weight", []int{V, H}, gguf.F32, hf["lm_head.weight"], keep("lm_head.weight"))
	kv := [][2]any{{"general.architecture", "llama"}, {"general.name", "tiny mixtral"},
		{"llama.context_length", uint32(64)}, {"llama.embedding_length", uint32(H)}, {"llama.block_count", uint32(2)},
		{"llama.feed_forward_length", uint32(I)}, {"llama.attention.head_count", uint32(4)},
		{"llama.attention.head_count_kv", uint32(2)}, {"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.rope.freq_base", float32(1e6)}, {"llama.rope.dimension_count", uint32(8)},
		{"llama.expert_count", uint32(E)}, {"llama.expert_used_count", uint32(2)}, {"llama.vocab_size", uint32(V)}}
	writeTestGGUF(t, path, kv, tensors)
	require.Len(t, stored, len(hf))
	return stored
}

// randomMixtralWeights draws the tiny Mixtral's weights under
// transformers' names: matrices N(0, 0.3²), norms 1 + N(0, 0.1²).
func randomMixtralWeights(t *testing.T, seed uint64) map[string][]float32 {
	t.Helper()
	js, err := json.Marshal(mixtralGGUFRaw)
	require.NoError(t, err)
	shape, err := New(mustConfig(t, string(js)), nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 5))
	out := map[string][]float32{}
	for _, p := range shape.Params() {
		s, _ := shape.ParamShape(p.Name)
		n := 1
		for _, d := range s {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			if strings.Contains(p.Name, "norm") {
				v[i] = float32(1 + 0.1*rng.NormFloat64())
			} else {
				v[i] = float32(0.3 * rng.NormFloat64())
			}
		}
		out[p.Name] = v
	}
	return out
}

// writeTwin writes the safetensors checkpoint of weights w with
// mixtralGGUFRaw's config.json.
func writeTwin(t *testing.T, w map[string][]float32) string {
	t.Helper()
	js, err := json.Marshal(mixtralGGUFRaw)
	require.NoError(t, err)
	shape, err := New(mustConfig(t, string(js)), nil)
	require.NoError(t, err)
	var ts []safetensors.Tensor
	for _, name := range slices.Sorted(maps.Keys(w)) {
		s, ok := shape.ParamShape(name)
		require.True(t, ok, name)
		ts = append(ts, safetensors.F32Tensor(name, s, w[name]))
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))
	return dir
}

// TestGGUFMixtral converts a tiny Mixtral to GGUF as llama.cpp does
// (architecture llama with experts, stacked expert tensors, or the older
// per-expert ones) in F32, F16 and Q8_0 (attention and expert matrices)
// and checks that the file loads as MixtralForCausalLM with the config of
// its safetensors twin (which holds the file's values), every parameter
// equal, and the same logits, on the CPU and WebGPU.
func TestGGUFMixtral(t *testing.T) {
	hf := randomMixtralWeights(t, 1)
	type variant struct {
		name   string
		typ    gguf.Type
		legacy bool
	}
	variants := []variant{{"stacked f32", gguf.F32, false}, {"stacked f16", gguf.F16, false},
		{"stacked q8_0", gguf.Q8_0, false}, {"per-expert f32", gguf.F32, true}, {"per-expert q8_0", gguf.Q8_0, true}}
	files, twins := map[string]string{}, map[string]string{}
	for _, v := range variants {
		path := filepath.Join(t.TempDir(), "mixtral.gguf")
		twins[v.name] = writeTwin(t, mixtralGGUF(t, path, hf, v.typ, v.legacy))
		files[v.name] = path
	}
	in := &Inputs{Batch: 2, Seq: 6, InputIDs: []int32{0, 0, 5, 17, 3, 39, 1, 22, 9, 30, 14, 6},
		AttentionMask: []int32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					g, err := Load(context.Background(), files[v.name], b)
					require.NoError(t, err)
					defer g.Free()
					h, err := Load(context.Background(), twins[v.name], b)
					require.NoError(t, err)
					defer h.Free()
					gc, hc := g.Config(), h.Config()
					assert.Equal(t, "mixtral", gc.ModelType)
					assert.Equal(t, "MixtralForCausalLM", gc.Architecture)
					for _, f := range []struct {
						name string
						a, b any
					}{{"experts", gc.NumExperts, hc.NumExperts}, {"top k", gc.ExpertsPerToken, hc.ExpertsPerToken},
						{"hidden", gc.Hidden, hc.Hidden}, {"intermediate", gc.Intermediate, hc.Intermediate},
						{"layers", gc.Layers, hc.Layers}, {"heads", gc.Heads, hc.Heads}, {"kv heads", gc.KVHeads, hc.KVHeads},
						{"head dim", gc.HeadDim, hc.HeadDim}, {"vocab", gc.VocabSize, hc.VocabSize}, {"eps", gc.NormEps, hc.NormEps},
						{"rope", gc.Rope, hc.Rope}, {"tied", gc.TieWordEmbeddings, hc.TieWordEmbeddings},
						{"window", gc.SlidingWindow, hc.SlidingWindow}, {"max positions", gc.MaxPositions, hc.MaxPositions}} {
						assert.Equal(t, f.b, f.a, f.name)
					}
					require.Len(t, g.Params(), len(h.Params()))
					for i, p := range h.Params() {
						q := g.Params()[i]
						require.Equal(t, p.Name, q.Name)
						want, err := b.ToFloat32(p.T)
						require.NoError(t, err)
						got, err := b.ToFloat32(q.T)
						require.NoError(t, err)
						require.Equal(t, want, got, p.Name)
					}
					want, shape := logitsOf(t, h, in)
					got, gshape := logitsOf(t, g, in)
					require.Equal(t, []int{2, 6, 40}, gshape)
					require.Equal(t, shape, gshape)
					for i := range want {
						if in.AttentionMask[i/40] == 1 {
							require.InDelta(t, want[i], got[i], 1e-5, "logit %d", i)
						}
					}
				})
			}
		})
	}
}

// TestGGUFMixtralErrors: expert files that are not Mixtral's layout are
// refused with a message naming the file and what is wrong.
func TestGGUFMixtralErrors(t *testing.T) {
	base := [][2]any{{"general.architecture", "llama"}, {"llama.embedding_length", uint32(32)},
		{"llama.block_count", uint32(1)}, {"llama.feed_forward_length", uint32(64)},
		{"llama.attention.head_count", uint32(4)}, {"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.vocab_size", uint32(8)}}
	f32 := func(name string, shape ...int) testGGUFTensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data, _ := ggufStore(t, make([]float32, n), gguf.F32)
		return testGGUFTensor{name, shape, gguf.F32, data}
	}
	for _, c := range []struct {
		name    string
		kv      [][2]any
		tensors []testGGUFTensor
		want    string
	}{
		{"no expert_used_count", append(slices.Clone(base), [2]any{"llama.expert_count", uint32(2)}),
			[]testGGUFTensor{f32("token_embd.weight", 8, 32)}, "metadata llama.expert_used_count is missing"},
		{"experts in qwen2", [][2]any{{"general.architecture", "qwen2"}, {"qwen2.expert_count", uint32(2)}},
			[]testGGUFTensor{f32("token_embd.weight", 8, 32)}, "mixtures of experts are supported for llama (Mixtral) only"},
		{"2-D stacked experts", append(slices.Clone(base), [2]any{"llama.expert_count", uint32(2)},
			[2]any{"llama.expert_used_count", uint32(1)}),
			[]testGGUFTensor{f32("token_embd.weight", 8, 32), f32("blk.0.ffn_up_exps.weight", 64, 32)},
			`stacked expert tensor "blk.0.ffn_up_exps.weight" has shape [64 32]`},
		{"attention bias", append(slices.Clone(base), [2]any{"llama.expert_count", uint32(2)},
			[2]any{"llama.expert_used_count", uint32(1)}),
			[]testGGUFTensor{f32("token_embd.weight", 8, 32), f32("blk.0.attn_q.bias", 32), f32("blk.0.attn_output.bias", 32)},
			"attention biases are not supported for Mixtral"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.gguf")
			writeTestGGUF(t, path, c.kv, c.tensors)
			_, err := Load(context.Background(), path, testBackend(t))
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
