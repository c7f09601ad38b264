package model

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/ia3/ia3/model/safetensors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/nn"
)

// archBackend is one device the architecture tests run on.
type archBackend struct {
	name string
	open func(t *testing.T) backend.Backend
}

// archBackends lists the CPU backend and a WebGPU adapter (lavapipe in CI;
// skipped without one unless IA3_REQUIRE_GPU=1).
func archBackends() []archBackend {
	return []archBackend{
		{"cpu", testBackend},
		{"webgpu", func(t *testing.T) backend.Backend { return webgputest.Open(t) }},
	}
}

// tinyDecoder returns a small config.json of model_type typ with extra
// keys set (a nil value writes JSON null).
func tinyDecoder(t *testing.T, typ string, extra map[string]any) *Config {
	t.Helper()
	raw := map[string]any{"model_type": typ, "vocab_size": 40, "hidden_size": 16, "intermediate_size": 24,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
		"max_position_embeddings": 64, "initializer_range": 0.3, "rms_norm_eps": 1e-6}
	for k, v := range extra {
		raw[k] = v
	}
	js, err := json.Marshal(raw)
	require.NoError(t, err)
	return mustConfig(t, string(js))
}

// randomNorms gives every norm weight random values, so that Gemma's
// (1 + weight) and the q/k norms are exercised away from the identity.
func randomNorms(t *testing.T, m *Model, seed int) {
	t.Helper()
	for _, nm := range m.Modules() {
		n, ok := nm.Module.(*nn.Norm)
		if !ok || n.Weight == nil {
			continue
		}
		v, err := m.b.ToFloat32(n.Weight.T)
		require.NoError(t, err)
		for i := range v {
			v[i] += float32(0.2 * math.Sin(float64(seed*31+i*7+len(nm.Name))))
		}
		nt, err := m.b.FromFloat32(v, len(v))
		require.NoError(t, err)
		m.b.Free(n.Weight.T)
		n.Weight.T = nt
	}
}

func TestDecoderLayerTypes(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		extra  map[string]any
		window int
		types  []string
	}{
		{"mistral default window", "mistral", nil, 4096, []string{"sliding_attention", "sliding_attention"}},
		{"mistral null window", "mistral", map[string]any{"sliding_window": nil}, 0, []string{"full_attention", "full_attention"}},
		{"mistral window 3", "mistral", map[string]any{"sliding_window": 3}, 3, []string{"sliding_attention", "sliding_attention"}},
		{"qwen2 without use_sliding_window", "qwen2", map[string]any{"sliding_window": 3}, 0, []string{"full_attention", "full_attention"}},
		{"qwen2 max_window_layers", "qwen2", map[string]any{"sliding_window": 3, "use_sliding_window": true, "max_window_layers": 1},
			3, []string{"full_attention", "sliding_attention"}},
		{"qwen2 layer_types", "qwen2", map[string]any{"sliding_window": 3, "use_sliding_window": true,
			"layer_types": []string{"sliding_attention", "full_attention"}}, 3, []string{"sliding_attention", "full_attention"}},
		{"qwen3 default", "qwen3", nil, 0, []string{"full_attention", "full_attention"}},
		{"gemma", "gemma", nil, 0, []string{"full_attention", "full_attention"}},
		{"gemma2 alternates", "gemma2", map[string]any{"sliding_window": 5}, 5, []string{"sliding_attention", "full_attention"}},
		{"gemma3 pattern", "gemma3_text", map[string]any{"num_hidden_layers": 4, "sliding_window_pattern": 3},
			4096, []string{"sliding_attention", "sliding_attention", "full_attention", "sliding_attention"}},
		{"llama", "llama", nil, 0, nil},
		{"gpt_neo", "gpt_neo", gptNeoSizes(), 3, []string{"full_attention", "sliding_attention"}},
		{"phi3 default", "phi3", nil, 0, []string{"full_attention", "full_attention"}},
		{"phi3 window", "phi3", map[string]any{"sliding_window": 2047}, 2047, []string{"sliding_attention", "sliding_attention"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyDecoder(t, tc.typ, tc.extra)
			assert.Equal(t, tc.window, c.SlidingWindow)
			assert.Equal(t, tc.types, c.LayerTypes)
			for i, typ := range tc.types {
				want := 0
				if typ == SlidingAttention {
					want = tc.window
				}
				assert.Equal(t, want, c.LayerWindow(i), "layer %d", i)
			}
		})
	}
}

func TestDecoderConfigFields(t *testing.T) {
	g2 := tinyDecoder(t, "gemma2", nil)
	assert.Equal(t, 50.0, g2.AttnSoftcap)
	assert.Equal(t, 30.0, g2.FinalSoftcap)
	assert.Equal(t, 256.0, g2.QueryPreAttnScalar)
	assert.True(t, g2.SandwichNorms && g2.GemmaNorm && g2.EmbedScale && !g2.QKNorm)
	assert.Equal(t, "gelu_pytorch_tanh", g2.Act)
	assert.True(t, g2.TieWordEmbeddings)

	off := tinyDecoder(t, "gemma2", map[string]any{"attn_logit_softcapping": nil, "final_logit_softcapping": nil})
	assert.Zero(t, off.AttnSoftcap)
	assert.Zero(t, off.FinalSoftcap)

	g3 := tinyDecoder(t, "gemma3_text", map[string]any{"rope_theta": 1e6, "rope_local_base_freq": 1e4,
		"rope_scaling": map[string]any{"rope_type": "linear", "factor": 8.0}})
	assert.Equal(t, RopeConfig{Theta: 1e6, Type: "linear", Factor: 8}, g3.Rope)
	require.NotNil(t, g3.LocalRope)
	assert.Equal(t, RopeConfig{Theta: 1e4, Type: "default", Factor: 1}, *g3.LocalRope)
	assert.True(t, g3.QKNorm && g3.SandwichNorms)
	assert.Zero(t, g3.AttnSoftcap)

	// transformers 5 keys rope_parameters by layer type.
	g3v5 := tinyDecoder(t, "gemma3_text", map[string]any{"rope_parameters": map[string]any{
		"full_attention":    map[string]any{"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
		"sliding_attention": map[string]any{"rope_type": "default", "rope_theta": 1e4}}})
	assert.Equal(t, RopeConfig{Theta: 1e6, Type: "linear", Factor: 8}, g3v5.Rope)
	assert.Equal(t, RopeConfig{Theta: 1e4, Type: "default", Factor: 1}, *g3v5.LocalRope)

	g1 := tinyDecoder(t, "gemma", map[string]any{"hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh"})
	assert.Equal(t, "gelu", g1.Act, "transformers 5's GemmaMLP reads hidden_act")
	assert.Equal(t, "gelu_pytorch_tanh", tinyDecoder(t, "gemma", nil).Act)

	q3 := tinyDecoder(t, "qwen3", map[string]any{"head_dim": nil})
	assert.Equal(t, 128, q3.HeadDim)
	assert.True(t, q3.QKNorm)
}

func TestDecoderConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		typ   string
		extra map[string]any
		want  string
	}{
		{"layer_types length", "mistral", map[string]any{"layer_types": []string{"full_attention"}}, "layer_types has 1 entries for 2 layers"},
		{"layer_types value", "qwen2", map[string]any{"layer_types": []string{"full_attention", "chunked_attention"}},
			`layer_types[1] = "chunked_attention" is not supported`},
		{"negative window", "mistral", map[string]any{"sliding_window": -2}, `field "sliding_window": want null or an integer`},
		{"window type", "gemma2", map[string]any{"sliding_window": "wide"}, `field "sliding_window": want an integer`},
		{"negative softcap", "gemma2", map[string]any{"attn_logit_softcapping": -1.0}, "attn_logit_softcapping must be a finite number ≥ 0"},
		{"partial rotary", "phi3", map[string]any{"partial_rotary_factor": 1.5}, `field "partial_rotary_factor": want a number in (0, 1]`},
		{"odd rotary dim", "phi3", map[string]any{"partial_rotary_factor": 0.375}, "the rotary dimension 3"},
		{"longrope", "phi3", map[string]any{"rope_scaling": map[string]any{"type": "longrope"}}, `rope type "longrope" is not supported`},
		{"gpt_neo types", "gpt_neo", map[string]any{"num_layers": 2, "attention_types": []any{[]any{[]any{"global", "dilated"}, 1}}},
			`field "attention_types": want a list of`},
		{"gpt_neo hostile repeat", "gpt_neo", map[string]any{"num_layers": 2, "attention_types": []any{[]any{[]any{"global"}, 1e7}}},
			"attention_types expands to 3 layers, num_layers is 2"},
		{"gpt_neo layers", "gpt_neo", map[string]any{"num_layers": 3, "attention_types": []any{[]any{[]any{"global", "local"}, 1}}},
			"attention_types expands to 2 layers, num_layers is 3"},
		{"bidirectional", "gemma3_text", map[string]any{"use_bidirectional_attention": true}, "bidirectional (non-causal) Gemma attention is not supported"},
		{"pattern", "gemma3_text", map[string]any{"sliding_window_pattern": 0}, `field "sliding_window_pattern": want a positive integer`},
		{"local rope type", "gemma3_text", map[string]any{"rope_parameters": map[string]any{
			"sliding_attention": map[string]any{"rope_type": "yarn"}}}, `field "rope_parameters.sliding_attention.rope_type"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{"model_type": tc.typ, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
				"num_attention_heads": 2, "head_dim": 8, "vocab_size": 10}
			for k, v := range tc.extra {
				raw[k] = v
			}
			js, err := json.Marshal(raw)
			require.NoError(t, err)
			_, err = ParseConfig(js)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSlidingWindowForward checks the window on a one-layer Mistral: a
// window at least as long as the input changes nothing, and with a
// shorter one the logits at t equal full attention over the last window
// tokens alone (positions kept), which is what masking keys j ≤ t − W
// means when there is one layer.
func TestSlidingWindowForward(t *testing.T) {
	tokens := []int32{3, 17, 5, 22, 9, 31, 14, 2}
	T := len(tokens)
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			build := func(window any) *Model {
				m, err := NewRandom(tinyDecoder(t, "mistral", map[string]any{"num_hidden_layers": 1, "sliding_window": window}), b, 11)
				require.NoError(t, err)
				t.Cleanup(m.Free)
				return m
			}
			full, wide, narrow := build(nil), build(T), build(3)
			V := full.Config().VocabSize
			in := &Inputs{Batch: 1, Seq: T, InputIDs: tokens}
			want, _ := logitsOf(t, full, in)
			got, _ := logitsOf(t, wide, in)
			assert.InDeltaSlice(t, want, got, 1e-6, "window ≥ seq")
			windowed, _ := logitsOf(t, narrow, in)
			assert.Greater(t, maxAbsDiff(want[3*V:], windowed[3*V:]), 1e-3, "a window of 3 must change later tokens")
			for s := 0; s < T; s++ {
				lo := max(0, s-2)
				pos := make([]int32, s+1-lo)
				for i := range pos {
					pos[i] = int32(lo + i)
				}
				alone, _ := logitsOf(t, full, &Inputs{Batch: 1, Seq: len(pos), InputIDs: tokens[lo : s+1], PositionIDs: pos})
				assert.InDeltaSlice(t, alone[(len(pos)-1)*V:], windowed[s*V:(s+1)*V], 2e-5, "token %d", s)
			}
		})
	}
}

// decoderCases are small random configurations of every Llama-family
// variant with its distinctive features on and windows shorter than the
// inputs.
func decoderCases() []struct {
	name  string
	typ   string
	extra map[string]any
} {
	return []struct {
		name  string
		typ   string
		extra map[string]any
	}{
		{"mistral window 3", "mistral", map[string]any{"sliding_window": 3}},
		{"qwen2 sliding", "qwen2", map[string]any{"sliding_window": 3, "use_sliding_window": true, "max_window_layers": 1}},
		{"qwen3", "qwen3", map[string]any{"tie_word_embeddings": true}},
		{"qwen3 sliding", "qwen3", map[string]any{"sliding_window": 2, "use_sliding_window": true, "max_window_layers": 0,
			"num_key_value_heads": 1}},
		{"gemma", "gemma", map[string]any{"num_key_value_heads": 1}},
		{"gemma2", "gemma2", map[string]any{"sliding_window": 3, "attn_logit_softcapping": 0.5, "final_logit_softcapping": 2.0,
			"query_pre_attn_scalar": 6}},
		{"gemma3_text", "gemma3_text", map[string]any{"num_hidden_layers": 3, "sliding_window": 3, "sliding_window_pattern": 2,
			"rope_theta": 1e6, "rope_scaling": map[string]any{"rope_type": "linear", "factor": 4.0}, "query_pre_attn_scalar": 12}},
		{"phi3 partial rotary window 3", "phi3", map[string]any{"partial_rotary_factor": 0.5, "sliding_window": 3}},
		{"phi3", "phi3", map[string]any{"num_key_value_heads": 4, "tie_word_embeddings": true}},
		{"mixtral 4 experts top 2, window 3", "mixtral", map[string]any{"num_local_experts": 4, "num_experts_per_tok": 2,
			"sliding_window": 3}},
		{"mixtral 3 experts top 1, MQA, tied", "mixtral", map[string]any{"num_local_experts": 3, "num_experts_per_tok": 1,
			"num_key_value_heads": 1, "tie_word_embeddings": true}},
		{"phi", "phi", map[string]any{"num_key_value_heads": 4, "layer_norm_eps": 1e-5}},
		{"phi qk_layernorm rotary 0.75 tied", "phi", map[string]any{"qk_layernorm": true, "partial_rotary_factor": 0.75,
			"tie_word_embeddings": true}},
		{"gpt_neox", "gpt_neox", map[string]any{"rotary_pct": 0.5}},
		{"gpt_neox sequential, rope_parameters", "gpt_neox", map[string]any{"use_parallel_residual": false,
			"hidden_act": "gelu_new", "rope_parameters": map[string]any{"rope_theta": 500.0, "partial_rotary_factor": 1.0}}},
		{"opt", "opt", map[string]any{"ffn_dim": 24}},
		{"opt project_in/out, untied", "opt", map[string]any{"ffn_dim": 24, "word_embed_proj_dim": 8,
			"tie_word_embeddings": false}},
		{"opt norm after (350m)", "opt", map[string]any{"ffn_dim": 24, "do_layer_norm_before": false}},
		{"gptj rotary 4 of 8", "gptj", gptjSizes(4)},
		{"gptj full rotary", "gptj", gptjSizes(nil)},
		{"gpt_neo global, local window 3", "gpt_neo", gptNeoSizes()},
		{"bloom", "bloom", map[string]any{"n_layer": 2, "n_head": 4}},
		{"bloom 6 heads, residual after norm", "bloom", map[string]any{"hidden_size": 24, "n_layer": 2, "n_head": 6,
			"apply_residual_connection_post_layernorm": true}},
		{"gpt_bigcode multi-query", "gpt_bigcode", map[string]any{"n_embd": 16, "n_layer": 2, "n_head": 4, "n_inner": 24,
			"n_positions": 64}},
		{"gpt_bigcode multi-head", "gpt_bigcode", map[string]any{"n_embd": 16, "n_layer": 2, "n_head": 4, "n_inner": 24,
			"n_positions": 64, "multi_query": false, "tie_word_embeddings": false}},
		{"falcon new architecture, 2 kv heads", "falcon", map[string]any{"new_decoder_architecture": true,
			"num_kv_heads": 2, "ffn_hidden_size": 24}},
		{"falcon new architecture, one norm", "falcon", map[string]any{"new_decoder_architecture": true,
			"num_kv_heads": 1, "num_ln_in_parallel_attn": 1, "ffn_hidden_size": 24, "bias": true}},
		{"falcon multi-query parallel (7b)", "falcon", map[string]any{"ffn_hidden_size": 24}},
		{"falcon multi-head sequential, biased", "falcon", map[string]any{"multi_query": false, "parallel_attn": false,
			"bias": true, "ffn_hidden_size": 24, "tie_word_embeddings": false}},
	}
}

// TestDecoderCacheMatchesFullForward feeds each variant its batch one
// token at a time through a KV cache, past the sliding window, and checks
// every step's logits against the full forward pass.
func TestDecoderCacheMatchesFullForward(t *testing.T) {
	forEachDecoder(t, 5, func(t *testing.T, b backend.Backend, m *Model) {
		const B, T = 2, 7
		in := &Inputs{Batch: B, Seq: T, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5, 0, 0},
			AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
		full, _ := logitsOf(t, m, in)
		V := m.Config().VocabSize
		cache, err := m.NewCache(B)
		require.NoError(t, err)
		defer cache.Free()
		for s := 0; s < T; s++ {
			step := &Inputs{Batch: B, Seq: 1, InputIDs: column(in.InputIDs, B, T, s),
				AttentionMask: column(in.AttentionMask, B, T, s)}
			g := nn.NewGraph(b, false)
			out := m.ForwardCached(g, step, cache)
			require.NoError(t, g.Err())
			got, err := b.ToFloat32(out.T)
			require.NoError(t, err)
			g.Release()
			for r := 0; r < B; r++ {
				if in.AttentionMask[r*T+s] == 0 {
					continue
				}
				want := full[(r*T+s)*V : (r*T+s+1)*V]
				require.InDeltaSlice(t, want, got[r*V:(r+1)*V], 1e-4, "row %d step %d", r, s)
			}
		}
	})
}

// forEachDecoder runs check on every backend for every decoderCases
// model, built randomly from seed with random norm weights.
func forEachDecoder(t *testing.T, seed uint64, check func(t *testing.T, b backend.Backend, m *Model)) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range decoderCases() {
				t.Run(c.name, func(t *testing.T) {
					m, err := NewRandom(tinyDecoder(t, c.typ, c.extra), b, seed)
					require.NoError(t, err)
					t.Cleanup(m.Free)
					randomNorms(t, m, int(seed))
					randomBiases(t, m)
					check(t, b, m)
				})
			}
		})
	}
}

// TestDecoderGenerateMatchesFullForward runs greedy generation through
// the KV cache past the sliding windows on every backend and compares each
// row with repeated full forward passes of that row alone. The prompts
// have one length: with left padding the window counts the pad slots, in
// transformers as here, so a padded row is not its unpadded run.
func TestDecoderGenerateMatchesFullForward(t *testing.T) {
	prompts := [][]int32{{17, 3, 9}, {5, 36, 7}}
	const n = 5
	forEachDecoder(t, 13, func(t *testing.T, _ backend.Backend, m *Model) {
		got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
		require.NoError(t, err)
		for r, p := range prompts {
			assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
		}
	})
}

// TestDecoderLastOnly checks Inputs.LastOnly on every new decoder: the
// logits of each row's last position, shaped [B, 1, V], equal the full
// forward pass's (soft-capping, windows and OPT's positions included).
func TestDecoderLastOnly(t *testing.T) {
	forEachDecoder(t, 17, func(t *testing.T, _ backend.Backend, m *Model) {
		const B, T = 2, 6
		in := &Inputs{Batch: B, Seq: T, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5}}
		full, _ := logitsOf(t, m, in)
		last := *in
		last.LastOnly = true
		got, shape := logitsOf(t, m, &last)
		V := m.Config().VocabSize
		require.Equal(t, []int{B, 1, V}, shape)
		for r := 0; r < B; r++ {
			assert.InDeltaSlice(t, full[(r*T+T-1)*V:(r*T+T)*V], got[r*V:(r+1)*V], 1e-5, "row %d", r)
		}
	})
}

// TestDecoderMatchesFloat64Reference checks each variant's logits on the
// CPU and WebGPU against refDecoder, a float64 transcription of the
// transformers forward pass.
func TestDecoderMatchesFloat64Reference(t *testing.T) {
	forEachDecoder(t, 9, func(t *testing.T, _ backend.Backend, m *Model) {
		const B, T = 2, 6
		in := &Inputs{Batch: B, Seq: T, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5}}
		got, shape := logitsOf(t, m, in)
		require.Equal(t, []int{B, T, m.Config().VocabSize}, shape)
		var want []float32
		switch m.Config().ModelType {
		case "phi":
			want = refPhi(t, m, in)
		case "gpt_neox":
			want = refGPTNeoX(t, m, in)
		case "opt":
			want = refOPT(t, m, in)
		case "gptj":
			want = refGPTJ(t, m, in)
		case "gpt_neo":
			want = refGPTNeo(t, m, in)
		case "bloom":
			want = refBloom(t, m, in)
		case "gpt_bigcode":
			want = refGPTBigCode(t, m, in)
		case "falcon":
			want = refFalcon(t, m, in)
		default:
			want = refDecoder(t, m, in)
		}
		assert.LessOrEqual(t, maxAbsDiff(want, got), 2e-4*math.Max(1, maxAbsOf(want)))
	})
}

// TestSoftcapAndScalarEquivalences checks Gemma 2's extra terms against
// configurations they must reduce to: a soft-cap far above the logits is
// no cap, and query_pre_attn_scalar = head_dim is the usual 1/√d scale.
func TestSoftcapAndScalarEquivalences(t *testing.T) {
	b := testBackend(t)
	in := &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{4, 8, 15, 16, 23}}
	run := func(extra map[string]any) []float32 {
		m, err := NewRandom(tinyDecoder(t, "gemma2", extra), b, 3)
		require.NoError(t, err)
		defer m.Free()
		v, _ := logitsOf(t, m, in)
		return v
	}
	off := run(map[string]any{"attn_logit_softcapping": nil, "final_logit_softcapping": nil, "query_pre_attn_scalar": 8})
	huge := run(map[string]any{"attn_logit_softcapping": 1e5, "final_logit_softcapping": 1e5, "query_pre_attn_scalar": 8})
	assert.InDeltaSlice(t, off, huge, 1e-4)
	capped := run(map[string]any{"attn_logit_softcapping": nil, "final_logit_softcapping": 0.25, "query_pre_attn_scalar": 8})
	assert.LessOrEqual(t, maxAbsOf(capped), 0.25)
	for i := range off {
		require.InDelta(t, 0.25*math.Tanh(float64(off[i])/0.25), capped[i], 1e-5, "logit %d", i)
	}
	scaled := run(map[string]any{"attn_logit_softcapping": nil, "final_logit_softcapping": nil, "query_pre_attn_scalar": 2})
	assert.Greater(t, maxAbsDiff(off, scaled), 1e-4, "query_pre_attn_scalar must change the scale")
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func maxAbsOf(a []float32) float64 {
	d := 0.0
	for _, v := range a {
		d = math.Max(d, math.Abs(float64(v)))
	}
	return d
}

// paramF64 downloads a parameter as float64.
func paramF64(t *testing.T, m *Model, name string) []float64 {
	t.Helper()
	var p *nn.Param
	for _, q := range m.Params() {
		if q.Name == name {
			p = q
		}
	}
	if p == nil {
		p = m.aliases[name]
	}
	if f := m.fusedByName(name); p == nil && f != nil {
		// An entry held as parts (Llama 4's experts): as the checkpoint has it.
		v, _, err := m.fusedValues(f)
		require.NoError(t, err)
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	require.NotNil(t, p, name)
	v, err := m.b.ToFloat32(p.T)
	require.NoError(t, err)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// refDecoder is a float64 transcription of transformers' Llama-family
// forward (LlamaModel, Qwen3, Gemma, Gemma2, Gemma3Text) for an unpadded
// batch, written from the modelling files rather than from this
// package's graph: embedding (× √hidden for Gemma), per layer RMS norms
// (scaled by 1 + w for Gemma), q/k/v projections, per-head q/k norms,
// rotary embedding, scaled scores with soft-capping, causal and
// sliding-window masking, softmax, o_proj, optional post norms, the gated
// MLP, the final norm, lm_head and the final soft-cap.
func refDecoder(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, Hkv, I := c.Hidden, c.HeadDim, c.KVHeads, c.Intermediate
	B, T := in.Batch, in.Seq
	p := func(name string) []float64 { return paramF64(t, m, name) }
	rms := func(x, w []float64) []float64 {
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		r := 1 / math.Sqrt(s/float64(len(x))+c.NormEps)
		out := make([]float64, len(x))
		for i, v := range x {
			g := w[i]
			if c.GemmaNorm {
				g += 1
			}
			out[i] = v * r * g
		}
		return out
	}
	lin := func(x, w, bias []float64, out int) []float64 {
		y := make([]float64, out)
		in := len(x)
		for o := 0; o < out; o++ {
			s := 0.0
			for i := 0; i < in; i++ {
				s += x[i] * w[o*in+i]
			}
			if bias != nil {
				s += bias[o]
			}
			y[o] = s
		}
		return y
	}
	optBias := func(name string, on bool) []float64 {
		if !on {
			return nil
		}
		return p(name)
	}
	rot := D
	if c.RotaryDim > 0 {
		rot = c.RotaryDim
	}
	invFreq := func(r RopeConfig) []float64 {
		f := make([]float64, rot/2)
		for i := range f {
			f[i] = float64(float32(1 / math.Pow(r.Theta, float64(float32(2*i)/float32(rot)))))
			if r.Type == "linear" {
				f[i] /= r.Factor
			}
		}
		return f
	}
	rope := func(x []float64, pos int, f []float64) {
		half := len(f)
		for i := 0; i < half; i++ {
			ang := float64(float32(pos) * float32(f[i]))
			s, co := math.Sin(ang), math.Cos(ang)
			a, bb := x[i], x[i+half]
			x[i], x[i+half] = a*co-bb*s, bb*co+a*s
		}
	}
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	act := func(x float64) float64 {
		if c.Act == "silu" {
			return x / (1 + math.Exp(-x))
		}
		return gelu(x)
	}
	scale := 1 / math.Sqrt(float64(D))
	if c.QueryPreAttnScalar > 0 {
		scale = 1 / math.Sqrt(c.QueryPreAttnScalar)
	}
	emb := p("model.embed_tokens.weight")
	out := make([]float32, 0, B*T*c.VocabSize)
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(emb, in.InputIDs[bi*T:(bi+1)*T], H)
		for s := range xs {
			if c.EmbedScale {
				for i := range xs[s] {
					xs[s][i] *= float64(float32(math.Sqrt(float64(H))))
				}
			}
		}
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("model.layers.%d.", l)
			f := invFreq(c.Rope)
			if c.LocalRope != nil && c.LayerTypes[l] == SlidingAttention {
				f = invFreq(*c.LocalRope)
			}
			window := c.LayerWindow(l)
			qkvBias := c.AttentionBias || c.QKVBias
			qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				h := rms(xs[s], p(pre+"input_layernorm.weight"))
				if c.FusedProjections {
					// Phi3Attention: qkv_proj's rows are q, then k, then v.
					qkv := lin(h, p(pre+"self_attn.qkv_proj.weight"), nil, (c.Heads+2*Hkv)*D)
					qs[s], ks[s], vs[s] = qkv[:c.Heads*D], qkv[c.Heads*D:(c.Heads+Hkv)*D], qkv[(c.Heads+Hkv)*D:]
				} else {
					qs[s] = lin(h, p(pre+"self_attn.q_proj.weight"), optBias(pre+"self_attn.q_proj.bias", qkvBias), c.Heads*D)
					ks[s] = lin(h, p(pre+"self_attn.k_proj.weight"), optBias(pre+"self_attn.k_proj.bias", qkvBias), Hkv*D)
					vs[s] = lin(h, p(pre+"self_attn.v_proj.weight"), optBias(pre+"self_attn.v_proj.bias", qkvBias), Hkv*D)
				}
				for hd := 0; hd < c.Heads; hd++ {
					q := qs[s][hd*D : (hd+1)*D]
					if c.QKNorm {
						copy(q, rms(q, p(pre+"self_attn.q_norm.weight")))
					}
					rope(q, s, f)
				}
				for hd := 0; hd < Hkv; hd++ {
					k := ks[s][hd*D : (hd+1)*D]
					if c.QKNorm {
						copy(k, rms(k, p(pre+"self_attn.k_norm.weight")))
					}
					rope(k, s, f)
				}
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, c.Heads*D)
				for hd := 0; hd < c.Heads; hd++ {
					kh := hd / (c.Heads / Hkv)
					var js []int
					var logits []float64
					mx := math.Inf(-1)
					for j := 0; j <= s; j++ {
						if window > 0 && j <= s-window {
							continue
						}
						dot := 0.0
						for i := 0; i < D; i++ {
							dot += qs[s][hd*D+i] * ks[j][kh*D+i]
						}
						dot *= scale
						if c.AttnSoftcap > 0 {
							dot = c.AttnSoftcap * math.Tanh(dot/c.AttnSoftcap)
						}
						js, logits = append(js, j), append(logits, dot)
						mx = math.Max(mx, dot)
					}
					sum := 0.0
					for i := range logits {
						logits[i] = math.Exp(logits[i] - mx)
						sum += logits[i]
					}
					for i, j := range js {
						for e := 0; e < D; e++ {
							attn[hd*D+e] += logits[i] / sum * vs[j][kh*D+e]
						}
					}
				}
				o := lin(attn, p(pre+"self_attn.o_proj.weight"), optBias(pre+"self_attn.o_proj.bias", c.AttentionBias), H)
				if c.SandwichNorms {
					o = rms(o, p(pre+"post_attention_layernorm.weight"))
				}
				for i := range o {
					xs[s][i] += o[i]
				}
				var h []float64
				if c.SandwichNorms {
					h = rms(xs[s], p(pre+"pre_feedforward_layernorm.weight"))
				} else {
					h = rms(xs[s], p(pre+"post_attention_layernorm.weight"))
				}
				var gate, up []float64
				if c.NumExperts > 0 {
					ff := refMoE(c, p, pre+"block_sparse_moe.", h)
					for i := range ff {
						xs[s][i] += ff[i]
					}
					continue
				}
				if c.FusedProjections {
					// Phi3MLP: gate_up_proj(x).chunk(2) is (gate, up).
					gu := lin(h, p(pre+"mlp.gate_up_proj.weight"), nil, 2*I)
					gate, up = gu[:I], gu[I:]
				} else {
					gate = lin(h, p(pre+"mlp.gate_proj.weight"), optBias(pre+"mlp.gate_proj.bias", c.MLPBias), I)
					up = lin(h, p(pre+"mlp.up_proj.weight"), optBias(pre+"mlp.up_proj.bias", c.MLPBias), I)
				}
				for i := range gate {
					gate[i] = act(gate[i]) * up[i]
				}
				ff := lin(gate, p(pre+"mlp.down_proj.weight"), optBias(pre+"mlp.down_proj.bias", c.MLPBias), H)
				if c.SandwichNorms {
					ff = rms(ff, p(pre+"post_feedforward_layernorm.weight"))
				}
				for i := range ff {
					xs[s][i] += ff[i]
				}
			}
		}
		if c.TaskType == TaskSeqCls {
			// GenericForSequenceClassification: score on the rightmost
			// token that is not the pad token, no soft-cap.
			last := 0
			for s := 0; s < T; s++ {
				if int(in.InputIDs[bi*T+s]) != c.PadTokenID {
					last = s
				}
			}
			for _, v := range refLinear(rms(xs[last], p("model.norm.weight")), p("score.weight"), nil, c.NumLabels) {
				out = append(out, float32(v))
			}
			continue
		}
		head := p("lm_head.weight")
		for s := 0; s < T; s++ {
			logits := lin(rms(xs[s], p("model.norm.weight")), head, nil, c.VocabSize)
			for _, v := range logits {
				if c.FinalSoftcap > 0 {
					v = c.FinalSoftcap * math.Tanh(v/c.FinalSoftcap)
				}
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// randomBiases gives every bias random values (NewRandom zeroes them), so
// that Phi's biased projections are exercised.
func randomBiases(t *testing.T, m *Model) {
	t.Helper()
	for _, p := range m.Params() {
		if !strings.HasSuffix(p.Name, ".bias") || strings.Contains(p.Name, "norm") {
			continue
		}
		v, err := m.b.ToFloat32(p.T)
		require.NoError(t, err)
		for i := range v {
			v[i] = float32(0.1 * math.Cos(float64(i*13+len(p.Name))))
		}
		nt, err := m.b.FromFloat32(v, len(v))
		require.NoError(t, err)
		m.b.Free(p.T)
		p.T = nt
	}
}

// refPhi is a float64 transcription of transformers' PhiForCausalLM
// forward for an unpadded batch: LayerNorm, q/k/v with biases, optional
// per-head q/k LayerNorms, rotary embedding of the first rotary_ndims
// features, causal softmax, dense, the MLP (fc1, gelu_new, fc2) on the
// same normed input, both added to the residual, final LayerNorm and the
// biased lm_head.
func refPhi(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, Hkv := c.Hidden, c.HeadDim, c.KVHeads
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln := func(x, w, b []float64) []float64 { return refLayerNorm(x, w, b, c.NormEps) }
	lin := func(x []float64, name string, out int) []float64 {
		return refLinear(x, p(name+".weight"), p(name+".bias"), out)
	}
	freq := refInvFreq(c.Rope.Theta, c.RotaryDim)
	rope := func(x []float64, pos int) { refRope(x, pos, freq) }
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	emb := p("model.embed_tokens.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(emb, in.InputIDs[bi*T:(bi+1)*T], H)
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("model.layers.%d.", l)
			hs, qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				hs[s] = ln(xs[s], p(pre+"input_layernorm.weight"), p(pre+"input_layernorm.bias"))
				qs[s] = lin(hs[s], pre+"self_attn.q_proj", c.Heads*D)
				ks[s] = lin(hs[s], pre+"self_attn.k_proj", Hkv*D)
				vs[s] = lin(hs[s], pre+"self_attn.v_proj", Hkv*D)
				for hd := 0; hd < c.Heads; hd++ {
					q := qs[s][hd*D : (hd+1)*D]
					if c.QKNorm {
						copy(q, ln(q, p(pre+"self_attn.q_layernorm.weight"), p(pre+"self_attn.q_layernorm.bias")))
					}
					rope(q, s)
				}
				for hd := 0; hd < Hkv; hd++ {
					k := ks[s][hd*D : (hd+1)*D]
					if c.QKNorm {
						copy(k, ln(k, p(pre+"self_attn.k_layernorm.weight"), p(pre+"self_attn.k_layernorm.bias")))
					}
					rope(k, s)
				}
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, c.Heads*D)
				for hd := 0; hd < c.Heads; hd++ {
					kh := hd / (c.Heads / Hkv)
					key := func(j int) []float64 { return ks[j][kh*D : (kh+1)*D] }
					val := func(j int) []float64 { return vs[j][kh*D : (kh+1)*D] }
					copy(attn[hd*D:], refCausalHead(qs[s][hd*D:(hd+1)*D], key, val, s))
				}
				a := lin(attn, pre+"self_attn.dense", H)
				f := lin(hs[s], pre+"mlp.fc1", c.Intermediate)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.fc2", H)
				for i := range xs[s] {
					xs[s][i] += a[i] + f[i]
				}
			}
		}
		for s := 0; s < T; s++ {
			h := ln(xs[s], p("model.final_layernorm.weight"), p("model.final_layernorm.bias"))
			w, b := p("lm_head.weight"), p("lm_head.bias")
			for o := 0; o < c.VocabSize; o++ {
				v := b[o]
				for i, x := range h {
					v += x * w[o*H+i]
				}
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// refGPTNeoX is a float64 transcription of transformers' GPTNeoXForCausalLM
// forward for an unpadded batch: query_key_value viewed as [T, H, 3·D]
// and chunked into q, k, v per head, rotary embedding of the first
// rotary_ndims features, causal softmax, dense, and the parallel
// (x + attn(ln1 x) + mlp(ln2 x)) or sequential residual, final LayerNorm
// and embed_out.
func refGPTNeoX(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, NH := c.Hidden, c.HeadDim, c.Heads
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	act := func(x float64) float64 {
		if c.Act == "gelu_new" {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	freq := refInvFreq(c.Rope.Theta, c.RotaryDim)
	rope := func(x []float64, pos int) { refRope(x, pos, freq) }
	mlp := func(x []float64, pre string) []float64 {
		f := lin(ln(x, pre+"post_attention_layernorm"), pre+"mlp.dense_h_to_4h", c.Intermediate, true)
		for i := range f {
			f[i] = act(f[i])
		}
		return lin(f, pre+"mlp.dense_4h_to_h", H, true)
	}
	emb := p("gpt_neox.embed_in.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(emb, in.InputIDs[bi*T:(bi+1)*T], H)
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("gpt_neox.layers.%d.", l)
			qkv := make([][]float64, T)
			for s := 0; s < T; s++ {
				qkv[s] = lin(ln(xs[s], pre+"input_layernorm"), pre+"attention.query_key_value", 3*H, c.AttentionBias)
				for h := 0; h < NH; h++ {
					rope(qkv[s][h*3*D:h*3*D+D], s)
					rope(qkv[s][h*3*D+D:h*3*D+2*D], s)
				}
			}
			next := make([][]float64, T)
			for s := 0; s < T; s++ {
				attn := make([]float64, H)
				for h := 0; h < NH; h++ {
					q := qkv[s][h*3*D : h*3*D+D]
					key := func(j int) []float64 { return qkv[j][h*3*D+D : h*3*D+2*D] }
					val := func(j int) []float64 { return qkv[j][h*3*D+2*D : h*3*D+3*D] }
					copy(attn[h*D:], refCausalHead(q, key, val, s))
				}
				a := lin(attn, pre+"attention.dense", H, c.AttentionBias)
				x := make([]float64, H)
				if c.ParallelResidual {
					f := mlp(xs[s], pre)
					for i := range x {
						x[i] = xs[s][i] + a[i] + f[i]
					}
				} else {
					for i := range x {
						x[i] = xs[s][i] + a[i]
					}
					f := mlp(x, pre)
					for i := range x {
						x[i] += f[i]
					}
				}
				next[s] = x
			}
			xs = next
		}
		for s := 0; s < T; s++ {
			logits := lin(ln(xs[s], "gpt_neox.final_layer_norm"), "embed_out", c.VocabSize, false)
			for _, v := range logits {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// refLayerNorm is LayerNorm in float64: (x − mean)/√(var + eps)·w + b.
func refLayerNorm(x, w, b []float64, eps float64) []float64 {
	mean, vr := 0.0, 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		vr += (v - mean) * (v - mean)
	}
	r := 1 / math.Sqrt(vr/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (v-mean)*r*w[i] + b[i]
	}
	return out
}

// refLinear is x·wᵀ + b for a torch Linear weight [out, len(x)] (b may be
// nil).
func refLinear(x, w, b []float64, out int) []float64 {
	y := make([]float64, out)
	for o := range y {
		s := 0.0
		if b != nil {
			s = b[o]
		}
		for i, v := range x {
			s += v * w[o*len(x)+i]
		}
		y[o] = s
	}
	return y
}

// refInvFreq is the default rope's inverse frequencies of dim rotated
// features, rounded to float32 as torch computes them.
func refInvFreq(theta float64, dim int) []float64 {
	f := make([]float64, dim/2)
	for i := range f {
		f[i] = float64(float32(1 / math.Pow(theta, float64(float32(2*i)/float32(dim)))))
	}
	return f
}

// refRope rotates the first 2·len(freq) features of x in place
// (rotate_half layout) by position pos, the angle a float32 product.
func refRope(x []float64, pos int, freq []float64) {
	half := len(freq)
	for i := 0; i < half; i++ {
		s, co := math.Sincos(float64(float32(pos) * float32(freq[i])))
		a, b := x[i], x[i+half]
		x[i], x[i+half] = a*co-b*s, b*co+a*s
	}
}

// refEmbed returns the embedding rows of ids from table [V, h].
func refEmbed(table []float64, ids []int32, h int) [][]float64 {
	xs := make([][]float64, len(ids))
	for s, id := range ids {
		xs[s] = append([]float64(nil), table[int(id)*h:(int(id)+1)*h]...)
	}
	return xs
}

// refCausalHead is one head's causal attention output at position s:
// softmax over j ≤ s of q·key(j)/√D, applied to val(j).
func refCausalHead(q []float64, key, val func(j int) []float64, s int) []float64 {
	w := make([]float64, s+1)
	mx, sum := math.Inf(-1), 0.0
	for j := range w {
		for i, k := range key(j) {
			w[j] += q[i] * k
		}
		w[j] /= math.Sqrt(float64(len(q)))
		mx = math.Max(mx, w[j])
	}
	for j := range w {
		w[j] = math.Exp(w[j] - mx)
		sum += w[j]
	}
	out := make([]float64, len(q))
	for j := range w {
		for e, v := range val(j) {
			out[e] += w[j] / sum * v
		}
	}
	return out
}

// refOPT is a float64 transcription of transformers' OPTForCausalLM
// forward for an unpadded batch: token embedding, project_in, learned
// positions (row p + 2), per layer LayerNorm before (or after) attention
// with the query projection scaled first, fc1/ReLU/fc2, final LayerNorm,
// project_out and lm_head.
func refOPT(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D := c.Hidden, c.HeadDim
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	emb, pos := p("model.decoder.embed_tokens.weight"), p("model.decoder.embed_positions.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(emb, in.InputIDs[bi*T:(bi+1)*T], c.WordEmbedDim)
		for s := range xs {
			if c.WordEmbedDim != H {
				xs[s] = lin(xs[s], "model.decoder.project_in", H, false)
			}
			for i := range xs[s] {
				xs[s][i] += pos[(s+2)*H+i]
			}
		}
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("model.decoder.layers.%d.", l)
			qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				h := xs[s]
				if c.NormBefore {
					h = ln(h, pre+"self_attn_layer_norm")
				}
				qs[s] = lin(h, pre+"self_attn.q_proj", H, true)
				ks[s] = lin(h, pre+"self_attn.k_proj", H, true)
				vs[s] = lin(h, pre+"self_attn.v_proj", H, true)
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, H)
				for hd := 0; hd < c.Heads; hd++ {
					key := func(j int) []float64 { return ks[j][hd*D : (hd+1)*D] }
					val := func(j int) []float64 { return vs[j][hd*D : (hd+1)*D] }
					copy(attn[hd*D:], refCausalHead(qs[s][hd*D:(hd+1)*D], key, val, s))
				}
				a := lin(attn, pre+"self_attn.out_proj", H, true)
				x := make([]float64, H)
				for i := range x {
					x[i] = xs[s][i] + a[i]
				}
				if !c.NormBefore {
					x = ln(x, pre+"self_attn_layer_norm")
				}
				h := x
				if c.NormBefore {
					h = ln(x, pre+"final_layer_norm")
				}
				f := lin(h, pre+"fc1", c.Intermediate, true)
				for i := range f {
					f[i] = math.Max(f[i], 0)
				}
				f = lin(f, pre+"fc2", H, true)
				for i := range x {
					x[i] += f[i]
				}
				if !c.NormBefore {
					x = ln(x, pre+"final_layer_norm")
				}
				xs[s] = x
			}
		}
		for s := 0; s < T; s++ {
			h := xs[s]
			if c.NormBefore {
				h = ln(h, "model.decoder.final_layer_norm")
			}
			if c.WordEmbedDim != H {
				h = lin(h, "model.decoder.project_out", c.WordEmbedDim, false)
			}
			for _, v := range refLinear(h, p("lm_head.weight"), nil, c.VocabSize) {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// TestOPTPositionsFollowTheMask checks OPT's learned positions, counted
// over the attention mask: a left-padded row gives the logits of the same
// tokens alone, in a full forward and through the KV cache.
func TestOPTPositionsFollowTheMask(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			m, err := NewRandom(tinyDecoder(t, "opt", map[string]any{"ffn_dim": 24}), b, 8)
			require.NoError(t, err)
			t.Cleanup(m.Free)
			V := m.Config().VocabSize
			tokens := []int32{11, 4, 29, 7}
			alone, _ := logitsOf(t, m, &Inputs{Batch: 1, Seq: 4, InputIDs: tokens})
			padded := &Inputs{Batch: 1, Seq: 6, InputIDs: append([]int32{1, 1}, tokens...),
				AttentionMask: []int32{0, 0, 1, 1, 1, 1}}
			got, _ := logitsOf(t, m, padded)
			assert.InDeltaSlice(t, alone, got[2*V:], 2e-5, "full forward")

			cache, err := m.NewCache(1)
			require.NoError(t, err)
			defer cache.Free()
			for s := 0; s < 6; s++ {
				step := &Inputs{Batch: 1, Seq: 1, InputIDs: padded.InputIDs[s : s+1], AttentionMask: padded.AttentionMask[s : s+1]}
				g := nn.NewGraph(b, false)
				out := m.ForwardCached(g, step, cache)
				require.NoError(t, g.Err())
				v, err := b.ToFloat32(out.T)
				require.NoError(t, err)
				g.Release()
				if s >= 2 {
					assert.InDeltaSlice(t, alone[(s-2)*V:(s-1)*V], v, 2e-5, "cached step %d", s)
				}
			}
		})
	}
}

// refModules returns float64 LayerNorm and Linear of m's modules by name
// (lin reads the bias only when asked).
func refModules(t *testing.T, m *Model) (ln func(x []float64, name string) []float64,
	lin func(x []float64, name string, out int, bias bool) []float64) {
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln = func(x []float64, name string) []float64 {
		return refLayerNorm(x, p(name+".weight"), p(name+".bias"), m.Config().NormEps)
	}
	lin = func(x []float64, name string, out int, bias bool) []float64 {
		var b []float64
		if bias {
			b = p(name + ".bias")
		}
		return refLinear(x, p(name+".weight"), b, out)
	}
	return ln, lin
}

// gptjSizes is a small GPTJConfig (GPT-2's key names) with rotary_dim rot
// (nil: JSON null, the whole head).
func gptjSizes(rot any) map[string]any {
	return map[string]any{"n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 24, "n_positions": 64, "rotary_dim": rot}
}

// refGPTJ is a float64 transcription of transformers' GPTJForCausalLM
// forward for an unpadded batch: ln_1 feeding attention and MLP in
// parallel, rotate_every_two on the first rotary_dim features of q and k
// (pairs 2i, 2i+1), softmax of q·k/√D, out_proj, fc_in/gelu_new/fc_out,
// ln_f and the biased lm_head.
func refGPTJ(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D := c.Hidden, c.HeadDim
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	freq := refInvFreq(10000, c.RotaryDim)
	rotate := func(x []float64, pos int) {
		for i := range freq {
			s, co := math.Sincos(float64(float32(pos) * float32(freq[i])))
			a, b := x[2*i], x[2*i+1]
			x[2*i], x[2*i+1] = a*co-b*s, b*co+a*s
		}
	}
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	emb := p("transformer.wte.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(emb, in.InputIDs[bi*T:(bi+1)*T], H)
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("transformer.h.%d.", l)
			hs, qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				hs[s] = ln(xs[s], pre+"ln_1")
				qs[s], ks[s], vs[s] = lin(hs[s], pre+"attn.q_proj", H, false), lin(hs[s], pre+"attn.k_proj", H, false),
					lin(hs[s], pre+"attn.v_proj", H, false)
				for h := 0; h < c.Heads; h++ {
					rotate(qs[s][h*D:(h+1)*D], s)
					rotate(ks[s][h*D:(h+1)*D], s)
				}
			}
			next := make([][]float64, T)
			for s := 0; s < T; s++ {
				attn := make([]float64, H)
				for h := 0; h < c.Heads; h++ {
					key := func(j int) []float64 { return ks[j][h*D : (h+1)*D] }
					val := func(j int) []float64 { return vs[j][h*D : (h+1)*D] }
					copy(attn[h*D:], refCausalHead(qs[s][h*D:(h+1)*D], key, val, s))
				}
				a := lin(attn, pre+"attn.out_proj", H, false)
				f := lin(hs[s], pre+"mlp.fc_in", c.Intermediate, true)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.fc_out", H, true)
				next[s] = make([]float64, H)
				for i := range next[s] {
					next[s][i] = xs[s][i] + a[i] + f[i]
				}
			}
			xs = next
		}
		for s := 0; s < T; s++ {
			for _, v := range lin(ln(xs[s], "transformer.ln_f"), "lm_head", c.VocabSize, true) {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// gptNeoSizes is a small GPTNeoConfig: a global layer, then a local one
// with a window of 3.
func gptNeoSizes() map[string]any {
	return map[string]any{"num_layers": 2, "num_heads": 4, "window_size": 3,
		"attention_types": []any{[]any{[]any{"global", "local"}, 1}}}
}

// refGPTNeo is a float64 transcription of transformers' GPTNeoForCausalLM
// forward for an unpadded batch: token and learned position embeddings,
// ln_1, unscaled q·k (GPT-Neo does not divide by √d) over the causal or
// local window, out_proj, ln_2, c_fc/gelu_new/c_proj, ln_f and lm_head.
func refGPTNeo(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D := c.Hidden, c.HeadDim
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	wte, wpe := p("transformer.wte.weight"), p("transformer.wpe.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(wte, in.InputIDs[bi*T:(bi+1)*T], H)
		for s := range xs {
			refAdd(xs[s], wpe[s*H:(s+1)*H])
		}
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("transformer.h.%d.", l)
			att := pre + "attn.attention."
			qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				h := ln(xs[s], pre+"ln_1")
				qs[s], ks[s], vs[s] = lin(h, att+"q_proj", H, false), lin(h, att+"k_proj", H, false), lin(h, att+"v_proj", H, false)
			}
			for s := 0; s < T; s++ {
				lo := 0
				if c.LayerTypes[l] == SlidingAttention {
					lo = max(0, s-c.SlidingWindow+1)
				}
				attn := make([]float64, H)
				for h := 0; h < c.Heads; h++ {
					w := make([]float64, s+1-lo)
					mx, sum := math.Inf(-1), 0.0
					for j := range w {
						for i := 0; i < D; i++ {
							w[j] += qs[s][h*D+i] * ks[lo+j][h*D+i]
						}
						mx = math.Max(mx, w[j])
					}
					for j := range w {
						w[j] = math.Exp(w[j] - mx)
						sum += w[j]
					}
					for j := range w {
						for e := 0; e < D; e++ {
							attn[h*D+e] += w[j] / sum * vs[lo+j][h*D+e]
						}
					}
				}
				a := lin(attn, att+"out_proj", H, true)
				for i := range a {
					xs[s][i] += a[i]
				}
				f := lin(ln(xs[s], pre+"ln_2"), pre+"mlp.c_fc", c.Intermediate, true)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.c_proj", H, true)
				for i := range f {
					xs[s][i] += f[i]
				}
			}
		}
		out = append(out, refTransformerHead(xs, ln, lin, c.VocabSize)...)
	}
	return out
}

// TestAlibiSlopes pins build_alibi_tensor's slopes: powers of 2^(−8/n)
// for a power of two n, then odd powers of 2^(−4/n) for the other heads.
func TestAlibiSlopes(t *testing.T) {
	assert.Equal(t, []float32{0.25, 0.0625, 0.015625, 0.00390625}, alibiSlopes(4))
	assert.Equal(t, []float32{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125}, alibiSlopes(6))
	assert.Equal(t, []float32{0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625}, alibiSlopes(8))
	assert.Equal(t, []float32{0.00390625}, alibiSlopes(1))
}

// refBloom is a float64 transcription of transformers' BloomForCausalLM
// forward for an unpadded batch: word embedding and its LayerNorm, per
// layer query_key_value viewed as [T, H, 3, D], scores
// alibi + q·k/√D with alibi = slope_h · j, softmax, dense plus the
// residual (the normed input with apply_residual_connection_post_layernorm),
// the MLP with tanh GELU, ln_f and the tied head.
func refBloom(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, NH := c.Hidden, c.HeadDim, c.Heads
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	slopes := alibiSlopes(NH)
	gelu := func(x float64) float64 { return x * 0.5 * (1 + math.Tanh(0.79788456*x*(1+0.044715*x*x))) }
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(p("transformer.word_embeddings.weight"), in.InputIDs[bi*T:(bi+1)*T], H)
		for s := range xs {
			xs[s] = ln(xs[s], "transformer.word_embeddings_layernorm")
		}
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("transformer.h.%d.", l)
			hs, qkv := make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				hs[s] = ln(xs[s], pre+"input_layernorm")
				qkv[s] = lin(hs[s], pre+"self_attention.query_key_value", 3*H, true)
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, H)
				for h := 0; h < NH; h++ {
					q := qkv[s][h*3*D : h*3*D+D]
					w := make([]float64, s+1)
					mx, sum := math.Inf(-1), 0.0
					for j := range w {
						k := qkv[j][h*3*D+D : h*3*D+2*D]
						for i := range q {
							w[j] += q[i] * k[i]
						}
						w[j] = w[j]/math.Sqrt(float64(D)) + float64(slopes[h])*float64(j)
						mx = math.Max(mx, w[j])
					}
					for j := range w {
						w[j] = math.Exp(w[j] - mx)
						sum += w[j]
					}
					for j := range w {
						v := qkv[j][h*3*D+2*D : h*3*D+3*D]
						for e := range v {
							attn[h*D+e] += w[j] / sum * v[e]
						}
					}
				}
				res := xs[s]
				if c.ResidualAfterNorm {
					res = hs[s]
				}
				a := lin(attn, pre+"self_attention.dense", H, true)
				x := make([]float64, H)
				for i := range x {
					x[i] = a[i] + res[i]
				}
				h := ln(x, pre+"post_attention_layernorm")
				res = x
				if c.ResidualAfterNorm {
					res = h
				}
				f := lin(h, pre+"mlp.dense_h_to_4h", 4*H, true)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.dense_4h_to_h", H, true)
				for i := range x {
					x[i] = f[i] + res[i]
				}
				xs[s] = x
			}
		}
		for s := 0; s < T; s++ {
			for _, v := range lin(ln(xs[s], "transformer.ln_f"), "lm_head", c.VocabSize, false) {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// refGPTBigCode is a float64 transcription of transformers'
// GPTBigCodeForCausalLM forward for an unpadded batch: token and position
// embeddings, ln_1, c_attn split as [q heads, k, v] with multi_query or
// viewed [H, 3·D] per head without, softmax of q·k/√D, c_proj, ln_2,
// c_fc/gelu_pytorch_tanh/c_proj, ln_f and lm_head.
func refGPTBigCode(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, NH := c.Hidden, c.HeadDim, c.Heads
	mq := c.KVHeads == 1
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	wte, wpe := p("transformer.wte.weight"), p("transformer.wpe.weight")
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(wte, in.InputIDs[bi*T:(bi+1)*T], H)
		for s := range xs {
			refAdd(xs[s], wpe[s*H:(s+1)*H])
		}
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("transformer.h.%d.", l)
			qkv := make([][]float64, T)
			for s := 0; s < T; s++ {
				qkv[s] = lin(ln(xs[s], pre+"ln_1"), pre+"attn.c_attn", H+2*c.KVHeads*D, true)
			}
			// q, k, v of head h at position s.
			part := func(s, h, j int) []float64 {
				if mq {
					if j == 0 {
						return qkv[s][h*D : (h+1)*D]
					}
					return qkv[s][H+(j-1)*D : H+j*D]
				}
				return qkv[s][h*3*D+j*D : h*3*D+(j+1)*D]
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, H)
				for h := 0; h < NH; h++ {
					key := func(j int) []float64 { return part(j, h, 1) }
					val := func(j int) []float64 { return part(j, h, 2) }
					copy(attn[h*D:], refCausalHead(part(s, h, 0), key, val, s))
				}
				a := lin(attn, pre+"attn.c_proj", H, true)
				for i := range a {
					xs[s][i] += a[i]
				}
				f := lin(ln(xs[s], pre+"ln_2"), pre+"mlp.c_fc", c.Intermediate, true)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.c_proj", H, true)
				for i := range f {
					xs[s][i] += f[i]
				}
			}
		}
		out = append(out, refTransformerHead(xs, ln, lin, c.VocabSize)...)
	}
	return out
}

// refTransformerHead returns the logits lm_head(ln_f(x)) of every
// position, as float32.
func refTransformerHead(xs [][]float64, ln func([]float64, string) []float64,
	lin func([]float64, string, int, bool) []float64, vocab int) []float32 {
	var out []float32
	for _, x := range xs {
		for _, v := range lin(ln(x, "transformer.ln_f"), "lm_head", vocab, false) {
			out = append(out, float32(v))
		}
	}
	return out
}

// refAdd adds y to x in place.
func refAdd(x, y []float64) {
	for i := range x {
		x[i] += y[i]
	}
}

// TestMT5IsT5V11 loads the t5_gated PEFT fixture's checkpoint (T5 v1.1:
// gated GELU, untied head) as model_type mt5, which is that architecture
// under MT5 class names: the logits must equal the T5 model's, on the CPU
// and WebGPU, and the modules carry MT5's classes.
func TestMT5IsT5V11(t *testing.T) {
	c := fixtureCase(t, "t5_gated")
	src := filepath.Join(c.Dir, "base")
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	cfg["model_type"], cfg["architectures"] = "mt5", []string{"MT5ForConditionalGeneration"}
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o600))
	weights, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o600))
	in := &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{9, 30, 4, 17, 1}, DecoderInputIDs: []int32{0, 12, 5}, DecoderSeq: 3}
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			t5m, err := Load(context.Background(), src, b)
			require.NoError(t, err)
			t.Cleanup(t5m.Free)
			mt5, err := Load(context.Background(), dir, b)
			require.NoError(t, err)
			t.Cleanup(mt5.Free)
			assert.Equal(t, "mt5", mt5.Config().ModelType)
			block, ok := mt5.Module("decoder.block.0")
			require.True(t, ok)
			assert.Equal(t, "MT5Block", block.Type())
			want, _ := logitsOf(t, t5m, in)
			got, _ := logitsOf(t, mt5, in)
			assert.Equal(t, want, got)
			cache, err := mt5.NewCache(1)
			require.NoError(t, err)
			defer cache.Free()
			assert.Len(t, cache.self, mt5.Config().DecoderLayers)
		})
	}
}

// refFalcon is a float64 transcription of transformers' FalconForCausalLM
// forward for an unpadded batch: _split_heads for the three
// query_key_value layouts, rotary embedding of the whole head, softmax of
// q·k/√D, dense, and FalconDecoderLayer's residual paths (ln_attn and
// ln_mlp, one input_layernorm for both, or sequential with
// post_attention_layernorm), ln_f and lm_head.
func refFalcon(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	H, D, NH, NKV := c.Hidden, c.HeadDim, c.Heads, c.KVHeads
	p := func(name string) []float64 { return paramF64(t, m, name) }
	ln, lin := refModules(t, m)
	freq := refInvFreq(c.Rope.Theta, D)
	gelu := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	// part returns query head h (j 0), or the key (j 1) or value (j 2) head
	// query head h reads, from a query_key_value output row.
	part := func(row []float64, h, j int) []float64 {
		switch {
		case c.NewDecoderArch:
			per := NH / NKV
			grp, idx := h/per, h%per
			if j > 0 {
				idx = per + j - 1
			}
			off := (grp*(per+2) + idx) * D
			return row[off : off+D]
		case NKV == 1:
			if j == 0 {
				return row[h*D : (h+1)*D]
			}
			return row[(NH+j-1)*D : (NH+j)*D]
		}
		return row[(h*3+j)*D : (h*3+j+1)*D]
	}
	B, T := in.Batch, in.Seq
	var out []float32
	for bi := 0; bi < B; bi++ {
		xs := refEmbed(p("transformer.word_embeddings.weight"), in.InputIDs[bi*T:(bi+1)*T], H)
		for l := 0; l < c.Layers; l++ {
			pre := fmt.Sprintf("transformer.h.%d.", l)
			attnNorm := pre + "input_layernorm"
			if c.ParallelNorms == 2 {
				attnNorm = pre + "ln_attn"
			}
			hs, qkv := make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				hs[s] = ln(xs[s], attnNorm)
				qkv[s] = lin(hs[s], pre+"self_attention.query_key_value", (NH+2*NKV)*D, c.AttentionBias)
				// Rotate every query head and every distinct key head once.
				rotated := map[*float64]bool{}
				for h := 0; h < NH; h++ {
					for _, j := range []int{0, 1} {
						x := part(qkv[s], h, j)
						if !rotated[&x[0]] {
							refRope(x, s, freq)
							rotated[&x[0]] = true
						}
					}
				}
			}
			next := make([][]float64, T)
			for s := 0; s < T; s++ {
				attn := make([]float64, NH*D)
				for h := 0; h < NH; h++ {
					key := func(j int) []float64 { return part(qkv[j], h, 1) }
					val := func(j int) []float64 { return part(qkv[j], h, 2) }
					copy(attn[h*D:], refCausalHead(part(qkv[s], h, 0), key, val, s))
				}
				a := lin(attn, pre+"self_attention.dense", H, c.AttentionBias)
				x := append([]float64(nil), xs[s]...)
				mlpIn := hs[s]
				switch {
				case !c.ParallelResidual:
					refAdd(x, a)
					mlpIn = ln(x, pre+"post_attention_layernorm")
				case c.ParallelNorms == 2:
					mlpIn = ln(xs[s], pre+"ln_mlp")
				}
				f := lin(mlpIn, pre+"mlp.dense_h_to_4h", c.Intermediate, c.AttentionBias)
				for i := range f {
					f[i] = gelu(f[i])
				}
				f = lin(f, pre+"mlp.dense_4h_to_h", H, c.AttentionBias)
				if c.ParallelResidual {
					refAdd(f, a)
				}
				refAdd(x, f)
				next[s] = x
			}
			xs = next
		}
		out = append(out, refTransformerHead(xs, ln, lin, c.VocabSize)...)
	}
	return out
}

// TestDecoderLoadsBareCheckpoint saves each new decoder, strips its
// base_model_prefix from every tensor name (a checkpoint of the bare
// XModel, as some Hub repositories hold) and checks that the reloaded
// model gives the same logits.
func TestDecoderLoadsBareCheckpoint(t *testing.T) {
	b := archBackends()[0].open(t)
	in := &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{1, 7, 3, 9, 22}}
	seen := map[string]bool{}
	for _, c := range decoderCases() {
		if seen[c.typ] {
			continue
		}
		seen[c.typ] = true
		t.Run(c.typ, func(t *testing.T) {
			pre := basePrefix[c.typ]
			require.NotEmpty(t, pre, "base_model_prefix of %s", c.typ)
			m, err := NewRandom(tinyDecoder(t, c.typ, c.extra), b, 5)
			require.NoError(t, err)
			defer m.Free()
			dir := t.TempDir()
			require.NoError(t, m.Save(dir))
			path := filepath.Join(dir, safetensors.SingleFileName)
			f, err := safetensors.Open(path)
			require.NoError(t, err)
			ts := allTensors(t, f)
			require.NoError(t, f.Close())
			stripped := 0
			for i := range ts {
				if rest, ok := strings.CutPrefix(ts[i].Name, pre+"."); ok {
					ts[i].Name = rest
					stripped++
				}
			}
			require.Positive(t, stripped, "tensors under %s.", pre)
			require.NoError(t, safetensors.Write(path, ts, nil))
			bare, err := Load(context.Background(), dir, b)
			require.NoError(t, err)
			defer bare.Free()
			want, _ := logitsOf(t, m, in)
			got, _ := logitsOf(t, bare, in)
			assert.Equal(t, want, got)
		})
	}
}

// TestPositionLimit: learned position tables bound a sequence; rotary and
// ALiBi models report no limit.
func TestPositionLimit(t *testing.T) {
	learned := map[string]bool{"opt": true, "gpt_neo": true, "gpt_bigcode": true}
	for _, c := range decoderCases() {
		cfg := tinyDecoder(t, c.typ, c.extra)
		want := 0
		if learned[c.typ] {
			want = cfg.MaxPositions
			require.Positive(t, want, c.typ)
		}
		assert.Equal(t, want, cfg.PositionLimit(), c.name)
	}
}

// TestOldGPTNeoBuffers: checkpoints saved by older transformers hold
// GPT-Neo's causal-mask buffers (attn.attention.bias, masked_bias), which
// transformers drops on load; so does Load.
func TestOldGPTNeoBuffers(t *testing.T) {
	b := archBackends()[0].open(t)
	for _, c := range decoderCases() {
		if c.typ != "gpt_neo" {
			continue
		}
		m, err := NewRandom(tinyDecoder(t, c.typ, c.extra), b, 3)
		require.NoError(t, err)
		defer m.Free()
		dir := t.TempDir()
		require.NoError(t, m.Save(dir))
		path := filepath.Join(dir, safetensors.SingleFileName)
		f, err := safetensors.Open(path)
		require.NoError(t, err)
		ts := allTensors(t, f)
		require.NoError(t, f.Close())
		ts = append(ts, safetensors.F32Tensor("transformer.h.0.attn.attention.bias", []int{1}, []float32{1}),
			safetensors.F32Tensor("transformer.h.1.attn.attention.masked_bias", []int{1}, []float32{-1e9}))
		require.NoError(t, safetensors.Write(path, ts, nil))
		old, err := Load(context.Background(), dir, b)
		require.NoError(t, err)
		defer old.Free()
		in := &Inputs{Batch: 1, Seq: 4, InputIDs: []int32{1, 7, 3, 9}}
		want, _ := logitsOf(t, m, in)
		got, _ := logitsOf(t, old, in)
		assert.Equal(t, want, got)
		return
	}
	t.Fatal("no gpt_neo case")
}
