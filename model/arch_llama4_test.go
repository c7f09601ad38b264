package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// llama4Text returns the text config of a small Llama 4 with every
// feature acting on a short input: 4 layers alternating rope (chunked, L2
// q/k norm) and NoPE (full attention, temperature tuning with floor_scale
// 2, so that it scales from the second token), MoE on layers 1 and 3
// (4 experts, top 1, shared expert), dense MLPs of another width on 0
// and 2, chunks of 3, GQA and llama3 rope scaling.
func llama4Text(extra map[string]any) map[string]any {
	raw := map[string]any{"model_type": "llama4_text", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 12,
		"intermediate_size_mlp": 20, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
		"head_dim": 8, "max_position_embeddings": 64, "initializer_range": 0.3, "rms_norm_eps": 1e-6,
		"num_local_experts": 4, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2, "no_rope_layer_interval": 2,
		"attention_chunk_size": 3, "floor_scale": 2, "attn_scale": 0.5,
		"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
			"high_freq_factor": 4.0, "original_max_position_embeddings": 16}}
	for k, v := range extra {
		raw[k] = v
	}
	return raw
}

// llama4Composite wraps a text config as a Llama4ForConditionalGeneration
// config.json (the vision_config is not read).
func llama4Composite(text map[string]any) map[string]any {
	text = copyMap(text)
	text["model_type"] = "llama4_text"
	return map[string]any{"model_type": "llama4", "architectures": []any{"Llama4ForConditionalGeneration"},
		"text_config": text, "vision_config": map[string]any{"hidden_size": 8}, "initializer_range": 0.3}
}

func copyMap(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func configOf(t *testing.T, raw map[string]any) *Config {
	t.Helper()
	js, err := json.Marshal(raw)
	require.NoError(t, err)
	return mustConfig(t, string(js))
}

// llama4Cases are the configurations the forward, cache and generation
// tests run.
func llama4Cases() []struct {
	name string
	raw  map[string]any
} {
	return []struct {
		name string
		raw  map[string]any
	}{
		{"rope/NoPE alternating, MoE top 1 on NoPE layers, chunk 3, qk norm, temperature", llama4Text(nil)},
		{"top 2, moe_layers 0 and 2, no qk norm, no temperature, chunk 4, MQA, tied", llama4Text(map[string]any{
			"num_experts_per_tok": 2, "moe_layers": []any{0, 2}, "use_qk_norm": false, "attn_temperature_tuning": false,
			"attention_chunk_size": 4, "num_key_value_heads": 1, "tie_word_embeddings": true,
			"no_rope_layers": []any{1, 0, 1, 1}, "rope_scaling": nil})},
		{"composite Llama4ForConditionalGeneration", llama4Composite(llama4Text(nil))},
	}
}

// forEachLlama4 runs check on every device for every llama4Cases model,
// random from seed with random norm weights.
func forEachLlama4(t *testing.T, seed uint64, check func(t *testing.T, b backend.Backend, m *Model)) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range llama4Cases() {
				t.Run(c.name, func(t *testing.T) {
					m, err := NewRandom(configOf(t, c.raw), b, seed)
					require.NoError(t, err)
					t.Cleanup(m.Free)
					randomNorms(t, m, int(seed))
					check(t, b, m)
				})
			}
		})
	}
}

// refLlama4 is a float64 transcription of transformers' Llama4ForCausalLM
// forward (modeling_llama4.py), written from the modelling file rather than
// from this package's graph: rotary embedding as a complex product on the
// pairs (2i, 2i+1) with llama3 frequency scaling, L2 q/k norm after it on
// rope layers, temperature tuning of NoPE layers' queries at their cache
// position, causal attention with the padding mask and, on chunked
// layers, chunked_overlay's (j − lp) // C = (i − lp) // C with lp the
// row's left padding; the router's top k by a stable sort, sigmoid of the
// chosen logits, each chosen expert run on x·score through gate_up_proj
// [H, 2I] (gate, then up) and down_proj [I, H], plus the shared expert;
// dense layers' MLP of intermediate_size_mlp. Positions are the cache
// positions (no position_ids), as a forward call without them uses.
// Only positions whose mask is 1 are meaningful.
func refLlama4(t *testing.T, m *Model, in *Inputs) []float32 {
	t.Helper()
	c := m.Config()
	o := c.Llama4
	pre := ""
	if o.Composite {
		pre = "language_model."
	}
	H, D, Hq, Hkv, I := c.Hidden, c.HeadDim, c.Heads, c.KVHeads, c.Intermediate
	B, T := in.Batch, in.Seq
	p := func(name string) []float64 { return paramF64(t, m, pre+name) }
	meanSq := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		return s / float64(len(x))
	}
	rms := func(x, w []float64) []float64 {
		r := 1 / math.Sqrt(meanSq(x)+c.NormEps)
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * r
			if w != nil {
				out[i] *= w[i]
			}
		}
		return out
	}
	silu := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	// Llama4TextRotaryEmbedding: default frequencies in float32, then
	// _compute_llama3_parameters when rope_type is llama3.
	freq := make([]float64, D/2)
	for i := range freq {
		freq[i] = float64(float32(1 / math.Pow(c.Rope.Theta, float64(float32(2*i)/float32(D)))))
		if c.Rope.Type == "llama3" {
			r := c.Rope
			low, high := float64(r.OriginalMaxPositions)/r.LowFreqFactor, float64(r.OriginalMaxPositions)/r.HighFreqFactor
			wl := 2 * math.Pi / freq[i]
			switch {
			case wl > low:
				freq[i] /= r.Factor
			case wl >= high:
				sm := (float64(r.OriginalMaxPositions)/wl - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				freq[i] = (1-sm)*freq[i]/r.Factor + sm*freq[i]
			}
			freq[i] = float64(float32(freq[i]))
		}
	}
	rotate := func(x []float64, pos int) {
		for i := 0; i < D/2; i++ {
			s, co := math.Sincos(float64(float32(pos) * float32(freq[i])))
			re, im := x[2*i], x[2*i+1]
			x[2*i], x[2*i+1] = re*co-im*s, re*s+im*co
		}
	}
	mlp := func(x []float64, name string, inter int) []float64 {
		g := refLinear(x, p(name+".gate_proj.weight"), nil, inter)
		u := refLinear(x, p(name+".up_proj.weight"), nil, inter)
		for i := range g {
			g[i] = silu(g[i]) * u[i]
		}
		return refLinear(g, p(name+".down_proj.weight"), nil, H)
	}
	moe := func(x []float64, name string) []float64 {
		E := c.NumExperts
		logits := refLinear(x, p(name+".router.weight"), nil, E)
		idx := make([]int, E)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
		out := mlp(x, name+".shared_expert", I)
		gu, dn := p(name+".experts.gate_up_proj"), p(name+".experts.down_proj")
		for _, e := range idx[:c.ExpertsPerToken] {
			score := 1 / (1 + math.Exp(-logits[e]))
			a := make([]float64, I)
			for j := 0; j < I; j++ {
				gate, up := 0.0, 0.0
				for i := 0; i < H; i++ {
					gate += x[i] * score * gu[(e*H+i)*2*I+j]
					up += x[i] * score * gu[(e*H+i)*2*I+I+j]
				}
				a[j] = up * silu(gate)
			}
			for h := 0; h < H; h++ {
				s := 0.0
				for j := 0; j < I; j++ {
					s += a[j] * dn[(e*I+j)*H+h]
				}
				out[h] += s
			}
		}
		return out
	}
	out := make([]float32, 0, B*T*c.VocabSize)
	for bi := 0; bi < B; bi++ {
		valid := make([]bool, T)
		lp := 0
		for s := range valid {
			valid[s] = in.AttentionMask == nil || in.AttentionMask[bi*T+s] != 0
			if !valid[s] && lp == s {
				lp++
			}
		}
		xs := refEmbed(p("model.embed_tokens.weight"), in.InputIDs[bi*T:(bi+1)*T], H)
		for l := 0; l < c.Layers; l++ {
			lay := fmt.Sprintf("model.layers.%d.", l)
			qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
			for s := 0; s < T; s++ {
				h := rms(xs[s], p(lay+"input_layernorm.weight"))
				qs[s] = refLinear(h, p(lay+"self_attn.q_proj.weight"), nil, Hq*D)
				ks[s] = refLinear(h, p(lay+"self_attn.k_proj.weight"), nil, Hkv*D)
				vs[s] = refLinear(h, p(lay+"self_attn.v_proj.weight"), nil, Hkv*D)
				if o.UseRope[l] {
					for hd := 0; hd < Hq; hd++ {
						rotate(qs[s][hd*D:(hd+1)*D], s)
					}
					for hd := 0; hd < Hkv; hd++ {
						rotate(ks[s][hd*D:(hd+1)*D], s)
					}
					if o.L2QKNorm {
						for hd := 0; hd < Hq; hd++ {
							copy(qs[s][hd*D:], rms(qs[s][hd*D:(hd+1)*D], nil))
						}
						for hd := 0; hd < Hkv; hd++ {
							copy(ks[s][hd*D:], rms(ks[s][hd*D:(hd+1)*D], nil))
						}
					}
				} else if o.TempTuning {
					sc := math.Log1p(math.Floor((float64(s)+1)/o.FloorScale))*o.AttnScale + 1
					for i := range qs[s] {
						qs[s][i] *= sc
					}
				}
			}
			for s := 0; s < T; s++ {
				attn := make([]float64, Hq*D)
				for hd := 0; hd < Hq; hd++ {
					kh := hd / (Hq / Hkv)
					var js []int
					for j := 0; j <= s; j++ {
						if valid[j] && (!o.Chunked[l] || floorDiv(j-lp, o.ChunkSize) == floorDiv(s-lp, o.ChunkSize)) {
							js = append(js, j)
						}
					}
					w := make([]float64, len(js))
					mx := math.Inf(-1)
					for a, j := range js {
						for i := 0; i < D; i++ {
							w[a] += qs[s][hd*D+i] * ks[j][kh*D+i]
						}
						w[a] /= math.Sqrt(float64(D))
						mx = math.Max(mx, w[a])
					}
					sum := 0.0
					for a := range w {
						w[a] = math.Exp(w[a] - mx)
						sum += w[a]
					}
					for a, j := range js {
						for e := 0; e < D; e++ {
							attn[hd*D+e] += w[a] / sum * vs[j][kh*D+e]
						}
					}
				}
				refAdd(xs[s], refLinear(attn, p(lay+"self_attn.o_proj.weight"), nil, H))
				h := rms(xs[s], p(lay+"post_attention_layernorm.weight"))
				if o.MoE[l] {
					refAdd(xs[s], moe(h, lay+"feed_forward"))
				} else {
					refAdd(xs[s], mlp(h, lay+"feed_forward", o.IntermediateMLP))
				}
			}
		}
		head := p("lm_head.weight")
		for s := 0; s < T; s++ {
			for _, v := range refLinear(rms(xs[s], p("model.norm.weight")), head, nil, c.VocabSize) {
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// validDiff is the largest difference between a and b over the positions
// whose attention mask is 1 (all without a mask), V values each.
func validDiff(in *Inputs, a, b []float32, V int) float64 {
	d := 0.0
	for i := 0; i < in.Batch*in.Seq; i++ {
		if in.AttentionMask != nil && in.AttentionMask[i] == 0 {
			continue
		}
		d = math.Max(d, maxAbsDiff(a[i*V:(i+1)*V], b[i*V:(i+1)*V]))
	}
	return d
}

// TestLlama4MatchesFloat64Reference checks the logits of every case
// against refLlama4 on every device: an unpadded batch (one chunk layout
// for all rows: attention per chunk block), a batch with rows of
// different left padding (per-row chunk starts: the [B, H, T, Tk] bias)
// and one whose rows are left-padded alike (blocks shifted by the
// padding), over 8 tokens so that chunks of 3 and 4 split them.
func TestLlama4MatchesFloat64Reference(t *testing.T) {
	forEachLlama4(t, 9, func(t *testing.T, _ backend.Backend, m *Model) {
		for _, in := range []*Inputs{
			{Batch: 2, Seq: 8, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5, 6, 17, 21, 33}},
			{Batch: 2, Seq: 8, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 0, 0, 11, 5, 6, 17, 21, 33},
				AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}},
			{Batch: 2, Seq: 8, InputIDs: []int32{0, 7, 3, 9, 22, 13, 4, 8, 0, 30, 11, 5, 6, 17, 21, 33},
				AttentionMask: []int32{0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1}},
		} {
			got, shape := logitsOf(t, m, in)
			V := m.Config().VocabSize
			require.Equal(t, []int{in.Batch, in.Seq, V}, shape)
			want := refLlama4(t, m, in)
			assert.LessOrEqual(t, validDiff(in, want, got, V), 2e-4*math.Max(1, maxAbsOf(want)), "mask %v", in.AttentionMask)
		}
	})
}

// TestLlama4FeaturesAct checks that the test configuration exercises what
// it claims: the chunk bias, the temperature and the experts change the
// logits (each compared with the same weights under a config without it),
// so that the reference comparison is not vacuous.
func TestLlama4FeaturesAct(t *testing.T) {
	b := testBackend(t)
	in := &Inputs{Batch: 1, Seq: 8, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8}}
	base, err := NewRandom(configOf(t, llama4Text(nil)), b, 3)
	require.NoError(t, err)
	defer base.Free()
	want, _ := logitsOf(t, base, in)
	for _, tc := range []struct {
		name  string
		extra map[string]any
	}{
		{"chunk 8 covers the input", map[string]any{"attention_chunk_size": 8}},
		{"no temperature tuning", map[string]any{"attn_temperature_tuning": false}},
		{"floor_scale past the input", map[string]any{"floor_scale": 100}},
		{"no q/k norm", map[string]any{"use_qk_norm": false}},
		{"all rope", map[string]any{"no_rope_layers": []any{1, 1, 1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewRandom(configOf(t, llama4Text(tc.extra)), b, 3)
			require.NoError(t, err)
			defer m.Free()
			got, _ := logitsOf(t, m, in)
			assert.Greater(t, maxAbsDiff(want, got), 1e-4)
		})
	}
	// A chunk as long as the input is full attention: the bias is never
	// built, and the reference agrees.
	m, err := NewRandom(configOf(t, llama4Text(map[string]any{"attention_chunk_size": 8})), b, 3)
	require.NoError(t, err)
	defer m.Free()
	got, _ := logitsOf(t, m, in)
	ref := refLlama4(t, m, in)
	assert.LessOrEqual(t, maxAbsDiff(ref, got), 2e-4*math.Max(1, maxAbsOf(ref)))
}

// TestLlama4CacheMatchesFullForward runs a prompt of 4 tokens and then
// one token at a time through the KV cache, across the chunk boundaries
// at 3 and 6 (and 4 for the second case), with a left-padded and a
// right-padded row, and compares every real position with the full
// forward pass on every device.
func TestLlama4CacheMatchesFullForward(t *testing.T) {
	forEachLlama4(t, 5, func(t *testing.T, b backend.Backend, m *Model) {
		const B, T, P = 3, 9, 4
		in := &Inputs{Batch: B, Seq: T,
			InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 0, 30, 11, 5, 6, 17, 21, 33, 12, 14, 15, 16, 18, 19, 20, 23, 0, 0},
			AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1,
				1, 1, 1, 1, 1, 1, 1, 0, 0}}
		full, _ := logitsOf(t, m, in)
		V := m.Config().VocabSize
		cache, err := m.NewCache(B)
		require.NoError(t, err)
		defer cache.Free()
		for s := 0; s < T; {
			n := 1
			if s == 0 {
				n = P
			}
			step := &Inputs{Batch: B, Seq: n}
			for r := 0; r < B; r++ {
				step.InputIDs = append(step.InputIDs, in.InputIDs[r*T+s:r*T+s+n]...)
				step.AttentionMask = append(step.AttentionMask, in.AttentionMask[r*T+s:r*T+s+n]...)
			}
			g := nn.NewGraph(b, false)
			out := m.ForwardCached(g, step, cache)
			require.NoError(t, g.Err())
			got, err := b.ToFloat32(out.T)
			require.NoError(t, err)
			g.Release()
			for r := 0; r < B; r++ {
				for j := 0; j < n; j++ {
					if in.AttentionMask[r*T+s+j] == 0 {
						continue
					}
					want := full[(r*T+s+j)*V : (r*T+s+j+1)*V]
					require.InDeltaSlice(t, want, got[(r*n+j)*V:(r*n+j+1)*V], 1e-4, "row %d position %d", r, s+j)
				}
			}
			s += n
		}
	})
}

// TestLlama4GenerateMatchesFullForward runs greedy generation through the
// KV cache past two chunk boundaries and compares each row with repeated
// full forward passes of that row alone, on every device.
func TestLlama4GenerateMatchesFullForward(t *testing.T) {
	prompts := [][]int32{{17, 3, 9, 4}, {5, 36, 7, 2}}
	const n = 5
	forEachLlama4(t, 13, func(t *testing.T, _ backend.Backend, m *Model) {
		got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
		require.NoError(t, err)
		for r, p := range prompts {
			assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
		}
	})
}

// TestChunkPlan checks the chunk restriction itself: per-chunk query
// blocks with their key ranges when every row has the same left padding
// (chunks counted from the first real token, as chunked_overlay), nothing
// when no visible key is outside its chunk, the cache offset, and the
// [B, H, T, Tk] bias when rows differ in left padding.
func TestChunkPlan(t *testing.T) {
	b := testBackend(t)
	m, err := NewRandom(configOf(t, llama4Text(map[string]any{"num_attention_heads": 2, "num_key_value_heads": 1})), b, 1)
	require.NoError(t, err)
	defer m.Free()
	arch := m.arch.(*llama4)
	type block struct{ q0, n, k0, nk int }
	plan := func(in *Inputs, cache *KVCache, past int) (*chunkPlan, []block, []float32) {
		g := nn.NewGraph(b, false)
		t.Cleanup(g.Release)
		p := arch.chunkPlan(g, in, cache, in.mask(), past)
		require.NoError(t, g.Err())
		if p == nil {
			return nil, nil, nil
		}
		var bl []block
		var masks []float32
		for _, x := range p.blocks {
			bl = append(bl, block{x.q0, x.n, x.k0, x.nk})
			v, err := b.ToFloat32(x.mask)
			require.NoError(t, err)
			masks = append(masks, v...)
		}
		return p, bl, masks
	}
	_, bl, _ := plan(&Inputs{Batch: 1, Seq: 4, InputIDs: []int32{1, 2, 3, 4}}, nil, 0)
	assert.Equal(t, []block{{0, 3, 0, 3}, {3, 1, 3, 1}}, bl)
	p, _, _ := plan(&Inputs{Batch: 1, Seq: 3, InputIDs: []int32{1, 2, 3}}, nil, 0)
	assert.Nil(t, p, "no key outside its chunk: plain attention")
	// Both rows left-padded by one: chunks start at position 1.
	_, bl, masks := plan(&Inputs{Batch: 2, Seq: 5, InputIDs: []int32{0, 1, 2, 3, 4, 0, 5, 6, 7, 8},
		AttentionMask: []int32{0, 1, 1, 1, 1, 0, 1, 1, 1, 1}}, nil, 0)
	assert.Equal(t, []block{{0, 1, 0, 1}, {1, 3, 1, 3}, {4, 1, 4, 1}}, bl)
	assert.Equal(t, []float32{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, masks)
	// After 5 cached tokens the sixth (position 5) sees keys 3..5.
	cache, err := m.NewCache(1)
	require.NoError(t, err)
	defer cache.Free()
	g := nn.NewGraph(b, false)
	m.ForwardCached(g, &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{1, 2, 3, 4, 5}}, cache)
	require.NoError(t, g.Err())
	g.Release()
	_, bl, _ = plan(&Inputs{Batch: 1, Seq: 1, InputIDs: []int32{6}}, cache, 5)
	assert.Equal(t, []block{{0, 1, 3, 3}}, bl)

	// Rows of different left padding: the bias, first head's plane per row.
	p, _, _ = plan(&Inputs{Batch: 2, Seq: 4, InputIDs: []int32{1, 2, 3, 4, 0, 1, 2, 3},
		AttentionMask: []int32{1, 1, 1, 1, 0, 1, 1, 1}}, nil, 0)
	require.NotNil(t, p)
	require.NotNil(t, p.bias)
	assert.Equal(t, []int{2, 2, 4, 4}, p.bias.Shape())
	v, err := b.ToFloat32(p.bias)
	require.NoError(t, err)
	masked := func(x []float32) []int {
		out := make([]int, len(x))
		for i, f := range x {
			if f < -1e29 {
				out[i] = 1
			}
		}
		return out
	}
	assert.Equal(t, []int{
		0, 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0, 0,
		1, 1, 1, 0}, masked(v[:16]))
	// Row 1's chunk starts at its first real token: positions 1..3 are
	// one chunk; pad key 0 is in chunk −1.
	assert.Equal(t, []int{
		0, 0, 0, 0,
		1, 0, 0, 0,
		1, 0, 0, 0,
		1, 0, 0, 0}, masked(v[32:48]))
	assert.Equal(t, []int{-1, -1, 0, 0, 1}, []int{floorDiv(-3, 3), floorDiv(-1, 3), floorDiv(0, 3), floorDiv(2, 3), floorDiv(3, 3)})
}

// TestLlama4ModuleNames checks the module tree against transformers'
// named_modules() of Llama4ForCausalLM: fused experts as one
// Llama4TextExperts module (no Linear per expert, so PEFT's down_proj
// matches only the shared expert's and the dense MLPs'), qk_norm on rope
// layers only, and the composite's language_model prefix.
func TestLlama4ModuleNames(t *testing.T) {
	raw := llama4Text(map[string]any{"num_hidden_layers": 2, "interleave_moe_layer_step": 2})
	m, err := New(configOf(t, raw), nil)
	require.NoError(t, err)
	var got []string
	for _, nm := range m.Modules() {
		got = append(got, nm.Name+" "+nm.Module.Type())
	}
	want := []string{" Llama4ForCausalLM", "model Llama4TextModel", "model.embed_tokens Embedding", "model.layers ModuleList",
		"model.layers.0 Llama4TextDecoderLayer", "model.layers.0.self_attn Llama4TextAttention",
		"model.layers.0.self_attn.q_proj Linear", "model.layers.0.self_attn.k_proj Linear",
		"model.layers.0.self_attn.v_proj Linear", "model.layers.0.self_attn.o_proj Linear",
		"model.layers.0.self_attn.qk_norm Llama4TextL2Norm",
		"model.layers.0.feed_forward Llama4TextMLP", "model.layers.0.feed_forward.gate_proj Linear",
		"model.layers.0.feed_forward.up_proj Linear", "model.layers.0.feed_forward.down_proj Linear",
		"model.layers.0.feed_forward.activation_fn SiLU",
		"model.layers.0.input_layernorm Llama4TextRMSNorm", "model.layers.0.post_attention_layernorm Llama4TextRMSNorm",
		"model.layers.1 Llama4TextDecoderLayer", "model.layers.1.self_attn Llama4TextAttention",
		"model.layers.1.self_attn.q_proj Linear", "model.layers.1.self_attn.k_proj Linear",
		"model.layers.1.self_attn.v_proj Linear", "model.layers.1.self_attn.o_proj Linear",
		"model.layers.1.feed_forward Llama4TextMoe", "model.layers.1.feed_forward.experts Llama4TextExperts",
		"model.layers.1.feed_forward.experts.act_fn SiLU", "model.layers.1.feed_forward.router Linear",
		"model.layers.1.feed_forward.shared_expert Llama4TextMLP",
		"model.layers.1.feed_forward.shared_expert.gate_proj Linear",
		"model.layers.1.feed_forward.shared_expert.up_proj Linear",
		"model.layers.1.feed_forward.shared_expert.down_proj Linear",
		"model.layers.1.feed_forward.shared_expert.activation_fn SiLU",
		"model.layers.1.input_layernorm Llama4TextRMSNorm", "model.layers.1.post_attention_layernorm Llama4TextRMSNorm",
		"model.norm Llama4TextRMSNorm", "model.rotary_emb Llama4TextRotaryEmbedding", "lm_head Linear"}
	assert.Equal(t, want, got)
	shapes := map[string][]int{}
	var experts []string
	for _, p := range m.Params() {
		shapes[p.Name] = m.shapes[p.Name]
		if strings.Contains(p.Name, ".experts.") {
			experts = append(experts, p.Name)
		}
	}
	// The fused entries keep their checkpoint shapes; the model holds one
	// Linear weight [out, in] per expert and projection, in transformers'
	// parameter order (gate_up_proj's parts, then down_proj's).
	for name, want := range map[string][]int{"model.layers.1.feed_forward.experts.gate_up_proj": {4, 16, 24},
		"model.layers.1.feed_forward.experts.down_proj": {4, 12, 16}} {
		got, ok := m.ParamShape(name)
		require.True(t, ok, name)
		assert.Equal(t, want, got, name)
	}
	x := "model.layers.1.feed_forward.experts."
	assert.Equal(t, []string{x + "gate_up_proj[0].gate", x + "gate_up_proj[0].up", x + "gate_up_proj[1].gate",
		x + "gate_up_proj[1].up", x + "gate_up_proj[2].gate", x + "gate_up_proj[2].up", x + "gate_up_proj[3].gate",
		x + "gate_up_proj[3].up", x + "down_proj[0]", x + "down_proj[1]", x + "down_proj[2]", x + "down_proj[3]"}, experts)
	assert.Equal(t, []int{12, 16}, shapes[x+"gate_up_proj[3].up"])
	assert.Equal(t, []int{16, 12}, shapes[x+"down_proj[3]"])
	assert.Equal(t, []int{20, 16}, shapes["model.layers.0.feed_forward.gate_proj.weight"])
	assert.Equal(t, []int{12, 16}, shapes["model.layers.1.feed_forward.shared_expert.gate_proj.weight"])

	cm, err := New(configOf(t, llama4Composite(raw)), nil)
	require.NoError(t, err)
	assert.Equal(t, "", cm.Modules()[0].Name)
	assert.Equal(t, "Llama4ForConditionalGeneration", cm.Modules()[0].Module.Type())
	assert.Equal(t, "language_model Llama4ForCausalLM", cm.Modules()[1].Name+" "+cm.Modules()[1].Module.Type())
	for i, nm := range cm.Modules()[2:] {
		assert.Equal(t, "language_model."+strings.TrimSpace(want[i+1]), nm.Name+" "+nm.Module.Type())
	}
	assert.Equal(t, TaskCausalLM, cm.Config().TaskType)

	// A Config built by hand without the Llama 4 options is refused, not a panic.
	_, err = New(&Config{ModelType: "llama4_text", Hidden: 16, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 8}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Llama 4 options")
}

// TestLlama4Config checks Llama4TextConfig's defaults (Scout's) and
// derived per-layer lists, the composite's text_config, and refusals
// naming the field.
func TestLlama4Config(t *testing.T) {
	c := configOf(t, map[string]any{"model_type": "llama4_text"})
	o := c.Llama4
	assert.Equal(t, []any{202048, 5120, 8192, 16384, 48, 40, 8, 128, 1e-5, 16, 1, 8192, 500000.0, "silu"},
		[]any{c.VocabSize, c.Hidden, c.Intermediate, o.IntermediateMLP, c.Layers, c.Heads, c.KVHeads, c.HeadDim,
			c.NormEps, c.NumExperts, c.ExpertsPerToken, o.ChunkSize, c.Rope.Theta, c.Act})
	assert.True(t, o.L2QKNorm)
	assert.True(t, o.TempTuning)
	assert.Equal(t, []float64{8192, 0.1}, []float64{o.FloorScale, o.AttnScale})
	assert.Equal(t, []bool{true, true, true, false, true}, o.UseRope[:5], "every 4th layer is NoPE")
	assert.Equal(t, o.UseRope, o.Chunked, "rope layers are chunked")
	assert.Equal(t, []bool{true, true, true}, o.MoE[:3], "interleave step 1: every layer")
	assert.Equal(t, "Llama4ForCausalLM", c.Architecture)

	c = configOf(t, llama4Text(map[string]any{"num_hidden_layers": 6, "interleave_moe_layer_step": 3,
		"layer_types":         []any{"full_attention", "chunked_attention", "full_attention", "full_attention", "full_attention", "full_attention"},
		"num_key_value_heads": nil, "head_dim": nil}))
	assert.Equal(t, []bool{false, false, true, false, false, true}, c.Llama4.MoE)
	assert.Equal(t, []bool{false, true, false, false, false, false}, c.Llama4.Chunked)
	assert.Equal(t, []int{4, 4}, []int{c.KVHeads, c.HeadDim})
	assert.Equal(t, "llama3", c.Rope.Type)

	// Released configs spell the temperature flag as a number (Scout: 4).
	assert.True(t, configOf(t, llama4Text(map[string]any{"attn_temperature_tuning": 4})).Llama4.TempTuning)
	assert.False(t, configOf(t, llama4Text(map[string]any{"attn_temperature_tuning": 0})).Llama4.TempTuning)

	c = configOf(t, llama4Composite(llama4Text(map[string]any{"pad_token_id": 7})))
	assert.True(t, c.Llama4.Composite)
	assert.Equal(t, []int{40, 16, 4, 7}, []int{c.VocabSize, c.Hidden, c.Layers, c.PadTokenID})
	// The composite's eos_token_id lives in text_config; a top-level one wins.
	raw := llama4Composite(llama4Text(map[string]any{"eos_token_id": []any{2, 5}}))
	eos, err := EOSTokenIDs(configOf(t, raw))
	require.NoError(t, err)
	assert.Equal(t, []int32{2, 5}, eos)
	raw["eos_token_id"] = 9
	eos, err = EOSTokenIDs(configOf(t, raw))
	require.NoError(t, err)
	assert.Equal(t, []int32{9}, eos)

	for _, tc := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"short no_rope_layers", llama4Text(map[string]any{"no_rope_layers": []any{1, 0}}), `"no_rope_layers": has 2 entries for 4 layers`},
		{"no_rope_layers value", llama4Text(map[string]any{"no_rope_layers": []any{1, 2, 1, 1}}), `"no_rope_layers": entry 1 is 2`},
		{"no_rope_layers type", llama4Text(map[string]any{"no_rope_layers": "all"}), `"no_rope_layers": want a list of integers`},
		{"layer_types value", llama4Text(map[string]any{"layer_types": []any{"sliding_attention", "full_attention",
			"full_attention", "full_attention"}}), `"layer_types": entry 0 is "sliding_attention"`},
		{"null chunk", llama4Text(map[string]any{"attention_chunk_size": nil}), `"attention_chunk_size": null is not supported`},
		{"zero chunk", llama4Text(map[string]any{"attention_chunk_size": 0}), `"attention_chunk_size": want an integer in [1,`},
		{"floor_scale", llama4Text(map[string]any{"floor_scale": 0}), `"floor_scale": want a finite number > 0`},
		{"top k", llama4Text(map[string]any{"num_experts_per_tok": 5}), `"num_experts_per_tok": want an integer in [1, num_local_experts 4]`},
		{"step", llama4Text(map[string]any{"interleave_moe_layer_step": 0}), `"interleave_moe_layer_step": want a positive integer`},
		{"interval", llama4Text(map[string]any{"no_rope_layer_interval": 0}), `"no_rope_layer_interval": want a positive integer`},
		{"odd head_dim", llama4Text(map[string]any{"head_dim": 7}), `"head_dim": must be even`},
		{"mlp width", llama4Text(map[string]any{"intermediate_size_mlp": -1}), `"intermediate_size_mlp": want an integer`},
		{"rope type", llama4Text(map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn"}}), `"rope_scaling.rope_type"`},
		{"composite text field", llama4Composite(llama4Text(map[string]any{"attention_chunk_size": "big"})),
			`"text_config.attention_chunk_size": want an integer`},
		{"composite text_config type", map[string]any{"model_type": "llama4", "text_config": 3}, `"text_config": want an object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := json.Marshal(tc.raw)
			require.NoError(t, err)
			_, err = ParseConfig(js)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestLlama4CompositeLoadsTextWeights saves a random llama4_text model,
// rewrites its checkpoint as a Llama4ForConditionalGeneration one
// (language_model.model.…, language_model.lm_head, plus vision tower and
// projector tensors) and loads it as the composite, which skips the vision
// tensors and gives the text model's logits on every device; the same
// composite checkpoint also loads as llama4_text (transformers'
// Llama4ForCausalLM base_model_prefix language_model).
func TestLlama4CompositeLoadsTextWeights(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			text := llama4Text(nil)
			m, err := NewRandom(configOf(t, text), b, 8)
			require.NoError(t, err)
			defer m.Free()
			dir := t.TempDir()
			require.NoError(t, m.Save(dir))
			in := &Inputs{Batch: 1, Seq: 7, InputIDs: []int32{3, 1, 4, 1, 5, 9, 2}}
			want, _ := logitsOf(t, m, in)

			f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
			require.NoError(t, err)
			var ts []safetensors.Tensor
			for _, name := range f.Names() {
				v, err := f.Float32(name)
				require.NoError(t, err)
				info, _ := f.Info(name)
				ts = append(ts, safetensors.F32Tensor("language_model."+name, info.Shape, v))
			}
			require.NoError(t, f.Close())
			ts = append(ts, safetensors.F32Tensor("vision_model.patch_embedding.linear.weight", []int{2, 3}, make([]float32, 6)),
				safetensors.F32Tensor("multi_modal_projector.linear_1.weight", []int{16, 2}, make([]float32, 32)))
			out := t.TempDir()
			js, err := json.Marshal(llama4Composite(text))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(out, "config.json"), js, 0o600))
			require.NoError(t, safetensors.Write(filepath.Join(out, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))

			cm, err := Load(context.Background(), out, b)
			require.NoError(t, err)
			defer cm.Free()
			got, _ := logitsOf(t, cm, in)
			assert.Equal(t, want, got)
			assert.Equal(t, "language_model.lm_head", cm.arch.outputLayer())

			// The text config over the composite's weights.
			tjs, err := json.Marshal(text)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(out, "config.json"), tjs, 0o600))
			tm, err := Load(context.Background(), out, b)
			require.NoError(t, err)
			defer tm.Free()
			got, _ = logitsOf(t, tm, in)
			assert.Equal(t, want, got)
		})
	}
}

// llama4Stored is a Llama 4 whose block weights every quantized format
// takes (hidden, intermediate and MLP widths multiples of NF4's 64).
func llama4Stored(t *testing.T) *Config {
	return configOf(t, llama4Text(map[string]any{"hidden_size": 64, "intermediate_size": 64,
		"intermediate_size_mlp": 128, "head_dim": 16}))
}

// llama4ExpertWeights returns the expert weights of m (the parts of the
// fused entries).
func llama4ExpertWeights(m *Model) []*nn.Param {
	var out []*nn.Param
	for _, f := range m.fused {
		for _, pt := range f.parts {
			out = append(out, pt.p)
		}
	}
	return out
}

// TestLlama4StorageFormats saves a random Llama 4 with BF16 weights (a
// BF16 checkpoint, fused experts included) and loads it on every device:
// every expert weight stays BF16 on the device, so the bytes the device
// holds are WeightBytes' BF16 count (2 per expert weight), and the logits
// match refLlama4 on the same weights. An F32 checkpoint loaded with
// --quantize int8 and nf4 has its expert weights quantized with the
// blocks' other weights; its logits equal, within float32 rounding, those
// of the float model of the dequantized weights (what Save writes, exactly
// in F32) and refLlama4's on those weights. On the CPU the bytes held are
// WeightBytes' and close to the memory plan's (WebGPU pads quantized
// weights and appends NF4's tables to them). The quantized logits are not
// bounded against the float model's: a top-k choice the quantization
// flips changes them by more than any rounding.
func TestLlama4StorageFormats(t *testing.T) {
	cfg := llama4Stored(t)
	in := &Inputs{Batch: 1, Seq: 7, InputIDs: []int32{5, 9, 2, 33, 1, 4, 8}}
	ctx := context.Background()
	dtypeOf := func(m *Model, name string) backend.DType {
		for _, p := range m.Params() {
			if p.Name == name {
				return p.T.DType()
			}
		}
		t.Fatalf("no parameter %s", name)
		return 0
	}
	structure, err := New(cfg, nil)
	require.NoError(t, err)
	save := func(t *testing.T, b backend.Backend, o RandomOptions) string {
		src, err := NewRandomWith(cfg, b, 6, o)
		require.NoError(t, err)
		defer src.Free()
		dir := t.TempDir()
		require.NoError(t, src.Save(dir))
		return dir
	}
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			t.Run("bf16", func(t *testing.T) {
				dir := save(t, b, RandomOptions{BF16: true})
				f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
				require.NoError(t, err)
				info, ok := f.Info("model.layers.1.feed_forward.experts.gate_up_proj")
				require.NoError(t, f.Close())
				require.True(t, ok)
				require.Equal(t, safetensors.BF16, info.DType, "the checkpoint's experts are BF16")

				before := allocated(t, b)
				m, err := Load(ctx, dir, b)
				require.NoError(t, err)
				defer m.Free()
				want, err := structure.WeightBytes(RandomOptions{BF16: true})
				require.NoError(t, err)
				assert.Equal(t, uint64(want), allocated(t, b)-before, "bytes held")
				experts := llama4ExpertWeights(m)
				require.Len(t, experts, 2*3*4)
				for _, p := range experts {
					require.Equal(t, backend.BF16, p.T.DType(), p.Name)
					n, err := backend.StorageBytes(p.T.DType(), p.T.Shape()...)
					require.NoError(t, err)
					require.Equal(t, 2*p.T.Len(), n, p.Name)
				}
				assert.Equal(t, backend.BF16, dtypeOf(m, "model.layers.0.self_attn.q_proj.weight"))
				got, _ := logitsOf(t, m, in)
				ref := refLlama4(t, m, in)
				assert.LessOrEqual(t, maxAbsDiff(ref, got), 2e-4*math.Max(1, maxAbsOf(ref)))
			})
			dir := save(t, b, RandomOptions{})
			for _, format := range []quant.Format{quant.Q8_0, quant.NF4} {
				t.Run(format.String(), func(t *testing.T) {
					before := allocated(t, b)
					q, err := LoadWith(ctx, dir, b, LoadOptions{Quantize: format})
					require.NoError(t, err)
					defer q.Free()
					if d.name == "cpu" {
						want, err := structure.WeightBytes(RandomOptions{Quantize: format})
						require.NoError(t, err)
						assert.Equal(t, uint64(want), allocated(t, b)-before, "bytes held")
						plan := cfg.PlanMemory(PlanOptions{Batch: 1, Seq: 1, ProjBytesPerWeight: ProjBytesPerWeight(format)})
						assert.InEpsilon(t, float64(want), plan.Weights, 0.05, "plan %.0f", plan.Weights)
					}
					dt, _ := backend.QuantDType(format)
					for _, p := range llama4ExpertWeights(q) {
						require.Equal(t, dt, p.T.DType(), p.Name)
					}
					assert.Equal(t, dt, dtypeOf(q, "model.layers.1.feed_forward.shared_expert.down_proj.weight"))
					got, _ := logitsOf(t, q, in)

					deqDir := t.TempDir()
					require.NoError(t, q.Save(deqDir))
					deq, err := Load(ctx, deqDir, b)
					require.NoError(t, err)
					defer deq.Free()
					same, _ := logitsOf(t, deq, in)
					assert.LessOrEqual(t, maxAbsDiff(same, got), 1e-4*math.Max(1, maxAbsOf(same)), "quantized vs dequantized float model")
					ref := refLlama4(t, deq, in)
					assert.LessOrEqual(t, maxAbsDiff(ref, got), 2e-4*math.Max(1, maxAbsOf(ref)), "quantized vs reference of the dequantized weights")
				})
			}
		})
	}
}

// TestLlama4QuantizeInPlace quantizes a float32 Llama 4 built by
// NewRandom (Model.Quantize): the expert weights become NF4 with the
// other block weights, their float storage is freed (the bytes held are
// WeightBytes' NF4 count), and the logits equal those of the model built
// quantized from the same seed.
func TestLlama4QuantizeInPlace(t *testing.T) {
	b := testBackend(t)
	cfg := llama4Stored(t)
	in := &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{5, 9, 2, 33, 1}}
	before := allocated(t, b)
	m, err := NewRandom(cfg, b, 3)
	require.NoError(t, err)
	defer m.Free()
	require.NoError(t, m.Quantize(quant.NF4))
	for _, p := range llama4ExpertWeights(m) {
		require.Equal(t, backend.NF4, p.T.DType(), p.Name)
	}
	s, err := New(cfg, nil)
	require.NoError(t, err)
	want, err := s.WeightBytes(RandomOptions{Quantize: quant.NF4})
	require.NoError(t, err)
	assert.Equal(t, uint64(want), allocated(t, b)-before)
	got, _ := logitsOf(t, m, in)
	built, err := NewRandomWith(cfg, b, 3, RandomOptions{Quantize: quant.NF4})
	require.NoError(t, err)
	defer built.Free()
	same, _ := logitsOf(t, built, in)
	assert.Equal(t, same, got)
}

// llama4Checkpoint writes a random Llama 4 checkpoint with every tensor in
// dtype (F32, F16 or BF16) and returns its directory.
func llama4Checkpoint(t *testing.T, b backend.Backend, cfg *Config, dtype string) string {
	t.Helper()
	m, err := NewRandom(cfg, b, 21)
	require.NoError(t, err)
	randomNorms(t, m, 21)
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	m.Free()
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	defer f.Close()
	var ts []safetensors.Tensor
	for _, name := range f.Names() {
		v, err := f.Float32(name)
		require.NoError(t, err)
		info, _ := f.Info(name)
		ts = append(ts, safetensors.Tensor{Name: name, DType: dtype, Shape: info.Shape, Data: encodeFloats(dtype, v)})
	}
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))
	return dir
}

// requireSameTensors checks that two safetensors files hold the same
// entries: names, dtypes, shapes and bytes.
func requireSameTensors(t *testing.T, want, got string) {
	t.Helper()
	fw, err := safetensors.Open(want)
	require.NoError(t, err)
	defer fw.Close()
	fg, err := safetensors.Open(got)
	require.NoError(t, err)
	defer fg.Close()
	names := fw.Names()
	sort.Strings(names)
	gotNames := fg.Names()
	sort.Strings(gotNames)
	require.Equal(t, names, gotNames)
	for _, name := range names {
		iw, _ := fw.Info(name)
		ig, _ := fg.Info(name)
		require.Equal(t, iw.DType, ig.DType, name)
		require.Equal(t, iw.Shape, ig.Shape, name)
		bw, err := fw.Bytes(name)
		require.NoError(t, err)
		bg, err := fg.Bytes(name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(bw, bg), "%s: bytes differ", name)
	}
}

// TestLlama4SaveRoundTrip loads F32, F16 and BF16 Llama 4 checkpoints
// (transformers' fused experts gate_up_proj [E, H, 2I] and down_proj
// [E, I, H], cut into per-expert [out, in] weights at load) on every device
// and saves them: every entry, the fused experts included, comes back
// with its name, dtype, shape and bytes. The composite's
// language_model.… entries too.
func TestLlama4SaveRoundTrip(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, raw := range []map[string]any{llama4Text(map[string]any{"num_experts_per_tok": 2}), llama4Composite(llama4Text(nil))} {
				for _, dtype := range []string{safetensors.F32, safetensors.F16, safetensors.BF16} {
					t.Run(fmt.Sprint(raw["model_type"], " ", dtype), func(t *testing.T) {
						dir := llama4Checkpoint(t, b, configOf(t, raw), dtype)
						m, err := Load(context.Background(), dir, b)
						require.NoError(t, err)
						defer m.Free()
						if dtype != safetensors.F32 {
							for _, p := range llama4ExpertWeights(m) {
								require.Equal(t, map[string]backend.DType{safetensors.F16: backend.F16, safetensors.BF16: backend.BF16}[dtype], p.T.DType(), p.Name)
							}
						}
						out := t.TempDir()
						require.NoError(t, m.Save(out))
						requireSameTensors(t, filepath.Join(dir, safetensors.SingleFileName), filepath.Join(out, safetensors.SingleFileName))
					})
				}
			}
		})
	}
}

// TestLlama4ExpertLayout checks the cut itself on a checkpoint of known
// values: expert e's gate weight [I, H] is the transpose of
// gate_up_proj[e][:, :I], its up weight of gate_up_proj[e][:, I:], its
// down weight [H, I] of down_proj[e]; a fused entry of the wrong shape is
// refused naming it, and a missing one is named (not its parts).
func TestLlama4ExpertLayout(t *testing.T) {
	b := testBackend(t)
	raw := llama4Text(nil)
	cfg := configOf(t, raw)
	dir := llama4Checkpoint(t, b, cfg, safetensors.F32)
	m, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	defer m.Free()
	E, H, I := cfg.NumExperts, cfg.Hidden, cfg.Intermediate
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	gu, err := f.Float32("model.layers.1.feed_forward.experts.gate_up_proj")
	require.NoError(t, err)
	dn, err := f.Float32("model.layers.1.feed_forward.experts.down_proj")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	mod, ok := m.Module("model.layers.1.feed_forward.experts")
	require.True(t, ok)
	ex := mod.(*llama4Experts)
	require.Len(t, ex.gate, E)
	for e := 0; e < E; e++ {
		gate, err := b.ToFloat32(ex.gate[e].Weight.T)
		require.NoError(t, err)
		up, err := b.ToFloat32(ex.up[e].Weight.T)
		require.NoError(t, err)
		down, err := b.ToFloat32(ex.down[e].Weight.T)
		require.NoError(t, err)
		for j := 0; j < I; j++ {
			for h := 0; h < H; h++ {
				require.Equal(t, gu[(e*H+h)*2*I+j], gate[j*H+h], "expert %d gate [%d, %d]", e, j, h)
				require.Equal(t, gu[(e*H+h)*2*I+I+j], up[j*H+h], "expert %d up [%d, %d]", e, j, h)
				require.Equal(t, dn[(e*I+j)*H+h], down[h*I+j], "expert %d down [%d, %d]", e, h, j)
			}
		}
	}

	rewrite := func(edit func(name string, info safetensors.TensorInfo, v []float32) *safetensors.Tensor) string {
		f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
		require.NoError(t, err)
		defer f.Close()
		var ts []safetensors.Tensor
		for _, name := range f.Names() {
			v, err := f.Float32(name)
			require.NoError(t, err)
			info, _ := f.Info(name)
			if x := edit(name, info, v); x != nil {
				ts = append(ts, *x)
			}
		}
		out := t.TempDir()
		js, err := json.Marshal(raw)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "config.json"), js, 0o600))
		require.NoError(t, safetensors.Write(filepath.Join(out, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))
		return out
	}
	const entry = "model.layers.3.feed_forward.experts.down_proj"
	bad := rewrite(func(name string, info safetensors.TensorInfo, v []float32) *safetensors.Tensor {
		if name == entry {
			x := safetensors.F32Tensor(name, []int{E, H, I}, v)
			return &x
		}
		x := safetensors.F32Tensor(name, info.Shape, v)
		return &x
	})
	_, err = Load(context.Background(), bad, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`tensor %q has shape [%d %d %d], the model expects [%d %d %d]`, entry, E, H, I, E, I, H))
	missing := rewrite(func(name string, info safetensors.TensorInfo, v []float32) *safetensors.Tensor {
		if name == entry {
			return nil
		}
		x := safetensors.F32Tensor(name, info.Shape, v)
		return &x
	})
	_, err = Load(context.Background(), missing, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`missing tensor %q`, entry))
}

// TestLlama4ForwardStaysOnDevice runs a Llama 4 loss forward and backward
// (top 1 and top 2, every feature on) through a backend that counts
// downloads and Syncs: the routing reads nothing back (no queue submit per
// MoE layer), and the loss and the gradient that crossed every MoE layer
// are real.
func TestLlama4ForwardStaysOnDevice(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			cb := &countingBackend{Backend: d.open(t)}
			for _, c := range llama4Cases() {
				t.Run(c.name, func(t *testing.T) {
					m, err := NewRandom(configOf(t, c.raw), cb, 9)
					require.NoError(t, err)
					defer m.Free()
					var embed *nn.Param
					for _, p := range m.Params() {
						if strings.HasSuffix(p.Name, "model.embed_tokens.weight") {
							embed = p
						}
					}
					require.NotNil(t, embed)
					embed.Trainable = true // so that the backward runs through every MoE op
					in := &Inputs{Batch: 2, Seq: 4, InputIDs: []int32{3, 1, 4, 1, 5, 9, 2, 6}, Labels: []int32{1, 4, 1, 5, 9, 2, 6, 5}}
					cb.reads, cb.syncs = 0, 0
					g := nn.NewGraph(cb, true)
					defer g.Release()
					loss := m.Loss(g, in)
					require.NoError(t, g.Err())
					require.NoError(t, g.Backward(loss))
					assert.Zero(t, cb.reads, "downloads during forward and backward")
					assert.Zero(t, cb.syncs, "syncs during forward and backward")
					v, err := cb.ToFloat32(loss.T)
					require.NoError(t, err)
					assert.Greater(t, v[0], float32(1), "a random model's loss")
					grad, err := cb.ToFloat32(g.ParamGrad(embed))
					require.NoError(t, err)
					assert.Greater(t, maxAbsOf(grad), 1e-6, "the embedding's gradient")
				})
			}
		})
	}
}

// TestLlama4ScoutConfig parses the text_config of the released
// Llama-4-Scout-17B-16E config.json (transformers 4.51's spelling:
// attn_temperature_tuning 4, rope_scaling llama3, moe_layers and
// no_rope_layers written out, pad_token_id in text_config) and builds its
// structure: 48 MoE layers, every 4th NoPE, fused experts [16, 5120, 16384]
// held as per-expert weights that each fit one WebGPU binding.
func TestLlama4ScoutConfig(t *testing.T) {
	moe := make([]any, 48)
	noRope := make([]any, 48)
	for i := range moe {
		moe[i] = i
		noRope[i] = map[bool]int{true: 1}[(i+1)%4 != 0]
	}
	text := map[string]any{"attention_bias": false, "attention_chunk_size": 8192, "attention_dropout": 0.0,
		"attn_scale": 0.1, "attn_temperature_tuning": 4, "bos_token_id": 200000, "eos_token_id": []any{200001, 200007, 200008},
		"floor_scale": 8192, "for_llm_compressor": false, "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120,
		"initializer_range": 0.02, "interleave_moe_layer_step": 1, "intermediate_size": 8192,
		"intermediate_size_mlp": 16384, "max_position_embeddings": 262144, "model_type": "llama4_text",
		"moe_layers": moe, "no_rope_layers": noRope, "num_attention_heads": 40, "num_experts_per_tok": 1,
		"num_hidden_layers": 48, "num_key_value_heads": 8, "num_local_experts": 16, "output_router_logits": false,
		"pad_token_id": 200018, "rms_norm_eps": 1e-05, "rope_scaling": map[string]any{"factor": 8.0,
			"high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
		"rope_theta": 500000.0, "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0, "torch_dtype": "bfloat16",
		"use_cache": true, "use_qk_norm": true, "vocab_size": 202048}
	raw := map[string]any{"architectures": []any{"Llama4ForConditionalGeneration"}, "boi_token_index": 200080,
		"eoi_token_index": 200081, "image_token_index": 200092, "model_type": "llama4", "text_config": text,
		"tie_word_embeddings": false, "vision_config": map[string]any{"hidden_size": 1408, "num_hidden_layers": 34}}
	c := configOf(t, raw)
	o := c.Llama4
	assert.True(t, o.Composite)
	assert.True(t, o.TempTuning)
	assert.Equal(t, []int{48, 200018, 8192, 8192}, []int{c.Layers, c.PadTokenID, o.ChunkSize, c.Rope.OriginalMaxPositions})
	assert.Equal(t, "llama3", c.Rope.Type)
	for i := 0; i < 48; i++ {
		require.True(t, o.MoE[i])
		require.Equal(t, (i+1)%4 != 0, o.UseRope[i])
		require.Equal(t, o.UseRope[i], o.Chunked[i])
	}
	eos, err := EOSTokenIDs(c)
	require.NoError(t, err)
	assert.Equal(t, []int32{200001, 200007, 200008}, eos)
	m, err := New(c, nil)
	require.NoError(t, err)
	shape, ok := m.ParamShape("language_model.model.layers.47.feed_forward.experts.gate_up_proj")
	require.True(t, ok)
	assert.Equal(t, []int{16, 5120, 16384}, shape)
	// Each expert weight is a buffer of its own, within WebGPU's default
	// storage-binding limit (128 MiB) in BF16, where the fused F32 entry
	// took 5.4 GB.
	for _, name := range []string{"gate_up_proj[15].up", "down_proj[15]"} {
		shape, ok = m.ParamShape("language_model.model.layers.47.feed_forward.experts." + name)
		require.True(t, ok, name)
		n, err := backend.StorageBytes(backend.BF16, shape...)
		require.NoError(t, err)
		assert.LessOrEqual(t, n, 128<<20, name)
	}
	assert.Equal(t, []int{5120, 8192}, shape)
	_, ok = m.Module("language_model.model.layers.3.self_attn.qk_norm")
	assert.False(t, ok, "layer 3 is NoPE: no qk_norm")
}

// TestLlama4LastOnly checks Inputs.LastOnly (serving's last-position
// logits) against the full forward pass's last position, on every device.
func TestLlama4LastOnly(t *testing.T) {
	forEachLlama4(t, 17, func(t *testing.T, _ backend.Backend, m *Model) {
		const B, T = 2, 7
		in := &Inputs{Batch: B, Seq: T, InputIDs: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5, 6, 17}}
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

// TestLlama4Sizes checks the memory plan's counts: the projection weights
// (attention, fused experts, shared experts, routers, dense MLPs of their
// own width) against the built model's parameters, and the (IA)³ vectors
// of PEFT's llama4 targets (q_proj, v_proj, down_proj).
func TestLlama4Sizes(t *testing.T) {
	for _, raw := range []map[string]any{llama4Text(nil), llama4Composite(llama4Text(map[string]any{"moe_layers": []any{0}}))} {
		c := configOf(t, raw)
		m, err := New(c, nil)
		require.NoError(t, err)
		var proj int
		for _, p := range m.Params() {
			if strings.Contains(p.Name, "layers.") && !strings.Contains(p.Name, "norm") {
				n := 1
				shape, _ := m.ParamShape(p.Name)
				for _, d := range shape {
					n *= d
				}
				proj += n
			}
		}
		_, got := c.paramSplit()
		assert.Equal(t, float64(proj), got)
		var vectors float64
		for l := 0; l < c.Layers; l++ {
			vectors += float64(c.Heads*c.HeadDim + c.KVHeads*c.HeadDim)
			if c.Llama4.MoE[l] {
				vectors += float64(c.Intermediate)
			} else {
				vectors += float64(c.Llama4.IntermediateMLP)
			}
		}
		assert.Equal(t, vectors, c.ApproxIA3Params())
	}
}
