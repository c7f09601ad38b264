package model

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/nn"
)

// bartAttnNames lists a BartAttention's tensors under p.
func bartAttnNames(p string) []string {
	return lw(p+".k_proj", p+".v_proj", p+".q_proj", p+".out_proj")
}

// bartCases are small random BART models: generation with scaled
// embeddings and a tied head, generation untied with ReLU, and sequence
// classification.
func bartCases() []gptCase {
	base := func(extra map[string]any) map[string]any {
		raw := map[string]any{"model_type": "bart", "vocab_size": 40, "d_model": 16, "encoder_layers": 2,
			"decoder_layers": 2, "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 24,
			"decoder_ffn_dim": 24, "max_position_embeddings": 16, "pad_token_id": 1, "eos_token_id": 2,
			"decoder_start_token_id": 2, "init_std": 0.3}
		for k, v := range extra {
			raw[k] = v
		}
		return raw
	}
	var layer []string
	for _, s := range []string{"encoder", "decoder"} {
		p := "model." + s + ".layers.%d"
		layer = append(layer, bartAttnNames(p+".self_attn")...)
		layer = append(layer, lw(p+".self_attn_layer_norm", p+".fc1", p+".fc2", p+".final_layer_norm")...)
		if s == "decoder" {
			layer = append(layer, bartAttnNames(p+".encoder_attn")...)
			layer = append(layer, lw(p+".encoder_attn_layer_norm")...)
		}
	}
	global := []string{"model.shared.weight", "model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"}
	global = append(global, lw("model.encoder.layernorm_embedding", "model.decoder.layernorm_embedding")...)
	gen := append([]string{"final_logits_bias"}, global...)
	return []gptCase{
		{"bart scaled tied gelu", base(map[string]any{"scale_embedding": true}), gen, layer},
		{"bart untied relu", base(map[string]any{"tie_word_embeddings": false, "activation_function": "relu"}),
			append([]string{"lm_head.weight"}, gen...), layer},
		{"bart classification", base(map[string]any{"architectures": []string{"BartForSequenceClassification"},
			"num_labels": 3, "scale_embedding": true}),
			append(lw("classification_head.dense", "classification_head.out_proj"), global...), layer},
		{"bart bare model", base(map[string]any{"architectures": []string{"BartModel"}}), unprefixed(global), unprefixed(layer)},
	}
}

// unprefixed drops BartModel's "model." from names: the bare model's own.
func unprefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimPrefix(n, "model.")
	}
	return out
}

// n names a BartModel tensor as the case's checkpoint does.
func (r *bartRef) n(name string) string {
	if r.cfg.TaskType == TaskFeatureExtraction {
		return strings.TrimPrefix(name, "model.")
	}
	return name
}

// bartRef is a float64 transcription of transformers' BART forward pass
// for one row, with explicit loops.
type bartRef struct{ gptRef }

func (r *bartRef) embedRows(name string, ids []int) gptMat {
	w, D := r.w[name+".weight"], r.cfg.Hidden
	y := make(gptMat, len(ids))
	for t, id := range ids {
		y[t] = append([]float64(nil), w[id*D:(id+1)*D]...)
	}
	return y
}

// stackInput is embed_tokens(ids)·scale + embed_positions(t + 2), then
// layernorm_embedding.
func (r *bartRef) stackInput(stack string, ids []int) gptMat {
	x := r.embedRows(r.n("model.shared"), ids)
	scale := 1.0
	if r.flag("scale_embedding", false) {
		scale = math.Sqrt(float64(r.cfg.Hidden))
	}
	pos := make([]int, len(ids))
	for t := range pos {
		pos[t] = t + 2
	}
	pe := r.embedRows(r.n("model."+stack+".embed_positions"), pos)
	for t := range x {
		for i := range x[t] {
			x[t][i] = x[t][i]*scale + pe[t][i]
		}
	}
	return r.layerNorm(x, r.n("model."+stack+".layernorm_embedding"))
}

// attn is BartAttention p of queries from x over keys and values from kv,
// keys masked by keyMask (nil: none) and, when causal, j > i.
func (r *bartRef) attn(p string, x, kv gptMat, keyMask []int32, causal bool) gptMat {
	H, D := r.cfg.Heads, r.cfg.HeadDim
	q, k, v := r.linear(x, p+".q_proj"), r.linear(kv, p+".k_proj"), r.linear(kv, p+".v_proj")
	out := make(gptMat, len(x))
	for i := range out {
		out[i] = make([]float64, H*D)
		for h := 0; h < H; h++ {
			sc := make([]float64, len(kv))
			mx := math.Inf(-1)
			for j := range kv {
				sc[j] = math.Inf(-1)
				if (keyMask != nil && keyMask[j] == 0) || (causal && j > i) {
					continue
				}
				s := 0.0
				for d := 0; d < D; d++ {
					s += q[i][h*D+d] * k[j][h*D+d]
				}
				sc[j] = s / math.Sqrt(float64(D))
				mx = math.Max(mx, sc[j])
			}
			sum := 0.0
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range sc {
				for d := 0; d < D; d++ {
					out[i][h*D+d] += sc[j] / sum * v[j][h*D+d]
				}
			}
		}
	}
	return r.linear(out, p+".out_proj")
}

// forward returns the decoder's logits [Tdec][V] (or, for classification,
// one row of label logits) for encoder ids with mask and decoder ids.
func (r *bartRef) forward(encIDs, mask, decIDs []int32) gptMat {
	toInts := func(ids []int32) []int {
		out := make([]int, len(ids))
		for i, id := range ids {
			out[i] = int(id)
		}
		return out
	}
	act := r.cfg.Act
	x := r.stackInput("encoder", toInts(encIDs))
	for l := 0; l < r.cfg.Layers; l++ {
		p := r.n(fmt.Sprintf("model.encoder.layers.%d", l))
		x = r.layerNorm(gptAdd(x, r.attn(p+".self_attn", x, x, mask, false)), p+".self_attn_layer_norm")
		x = r.layerNorm(gptAdd(x, r.mlp(x, p+".fc1", p+".fc2", act)), p+".final_layer_norm")
	}
	enc := x
	x = r.stackInput("decoder", toInts(decIDs))
	for l := 0; l < r.cfg.DecoderLayers; l++ {
		p := r.n(fmt.Sprintf("model.decoder.layers.%d", l))
		x = r.layerNorm(gptAdd(x, r.attn(p+".self_attn", x, x, nil, true)), p+".self_attn_layer_norm")
		x = r.layerNorm(gptAdd(x, r.attn(p+".encoder_attn", x, enc, mask, false)), p+".encoder_attn_layer_norm")
		x = r.layerNorm(gptAdd(x, r.mlp(x, p+".fc1", p+".fc2", act)), p+".final_layer_norm")
	}
	if r.cfg.TaskType == TaskFeatureExtraction {
		return x
	}
	if r.cfg.TaskType == TaskSeqCls {
		last := -1
		for t, id := range encIDs {
			if int(id) == r.cfg.EOSTokenID {
				last = t
			}
		}
		h := r.linear(gptMat{x[last]}, "classification_head.dense")
		for i := range h[0] {
			h[0][i] = math.Tanh(h[0][i])
		}
		return r.linear(h, "classification_head.out_proj")
	}
	head := "lm_head"
	if _, ok := r.w["lm_head.weight"]; !ok {
		head = "model.shared"
	}
	logits := r.linear(x, head)
	for t := range logits {
		for i := range logits[t] {
			logits[t][i] += r.w["final_logits_bias"][i]
		}
	}
	return logits
}

// bartInputs is a batch of two rows, the second right-padded by two
// tokens, each with one EOS (2) in input_ids, and decoder ids of its own
// length.
func bartInputs() *Inputs {
	return &Inputs{Batch: 2, Seq: 6,
		InputIDs:        []int32{0, 5, 17, 3, 39, 2, 0, 22, 9, 2, 1, 1},
		AttentionMask:   []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
		DecoderInputIDs: []int32{2, 0, 7, 30, 2, 0, 11, 6}, DecoderSeq: 4}
}

// TestBARTParamNames checks that each variant's parameters are named as
// transformers' state dict names them (the tied embed_tokens and lm_head
// once, under model.shared).
func TestBARTParamNames(t *testing.T) {
	for _, c := range bartCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.config(t), nil)
			require.NoError(t, err)
			var got []string
			for _, p := range m.Params() {
				got = append(got, p.Name)
			}
			assert.ElementsMatch(t, c.names(), got)
			for _, alias := range unprefixed([]string{"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
				if m.Config().TaskType != TaskFeatureExtraction {
					alias = "model." + alias
				}
				s, ok := m.ParamShape(alias)
				require.True(t, ok, alias)
				assert.Equal(t, []int{40, 16}, s)
			}
		})
	}
}

// TestBARTModuleOrder checks the start of named_modules() of a decoder
// layer, as BartDecoderLayer registers them.
func TestBARTModuleOrder(t *testing.T) {
	m, err := New(bartCases()[0].config(t), nil)
	require.NoError(t, err)
	var got []string
	for _, nm := range m.Modules() {
		if len(nm.Name) > len("model.decoder.layers.1.") && nm.Name[:len("model.decoder.layers.1.")] == "model.decoder.layers.1." {
			got = append(got, nm.Name[len("model.decoder.layers.1."):])
		}
	}
	assert.Equal(t, []string{"self_attn", "self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj",
		"activation_fn", "self_attn_layer_norm", "encoder_attn", "encoder_attn.k_proj", "encoder_attn.v_proj",
		"encoder_attn.q_proj", "encoder_attn.out_proj", "encoder_attn_layer_norm", "fc1", "fc2", "final_layer_norm"}, got)
	assert.Equal(t, "lm_head", m.OutputLayer())
}

// TestBARTForwardMatchesReference loads each variant from a random
// checkpoint with transformers' names and compares its outputs with the
// float64 reference, on the CPU and WebGPU.
func TestBARTForwardMatchesReference(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range bartCases() {
				t.Run(c.name, func(t *testing.T) {
					dir, values := writeRandomCheckpoint(t, c, uint64(i+50))
					m, err := Load(context.Background(), dir, b)
					require.NoError(t, err)
					defer m.Free()
					in := bartInputs()
					cls := m.Config().TaskType == TaskSeqCls
					bare := m.Config().TaskType == TaskFeatureExtraction
					if cls || bare {
						in.DecoderInputIDs, in.DecoderSeq = nil, 0
					}
					got, shape := logitsOf(t, m, in)
					ref := &bartRef{gptRef{raw: c.raw, cfg: m.Config(), w: values}}
					for r := 0; r < in.Batch; r++ {
						enc := in.InputIDs[r*in.Seq : (r+1)*in.Seq]
						mask := in.AttentionMask[r*in.Seq : (r+1)*in.Seq]
						var want gptMat
						var row []float32
						if cls {
							require.Equal(t, []int{2, 3}, shape)
							dec, _, err := shiftTokensRight(m.Config(), enc, 1, "input_ids")
							require.NoError(t, err)
							want, row = ref.forward(enc, mask, dec), got[r*3:(r+1)*3]
							require.InDeltaSlice(t, want[0], f64(row), 1e-4)
							continue
						}
						if bare {
							// The decoder's last hidden state over input_ids shifted right.
							require.Equal(t, []int{2, 6, 16}, shape)
							dec, _, err := shiftTokensRight(m.Config(), enc, 1, "input_ids")
							require.NoError(t, err)
							want = ref.forward(enc, mask, dec)
							for p := range want {
								require.InDeltaSlice(t, want[p], f64(got[(r*6+p)*16:(r*6+p+1)*16]), 1e-4, "row %d position %d", r, p)
							}
							continue
						}
						V := m.Config().VocabSize
						require.Equal(t, []int{2, 4, V}, shape)
						dec := in.DecoderInputIDs[r*4 : (r+1)*4]
						want = ref.forward(enc, mask, dec)
						for p := range want {
							row = got[(r*4+p)*V : (r*4+p+1)*V]
							require.InDeltaSlice(t, want[p], f64(row), 1e-4*maxAbs(want[p]), "row %d position %d", r, p)
						}
					}
				})
			}
		})
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func maxAbs(v []float64) float64 {
	m := 1.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// TestBARTKVCache checks that decoding one token at a time through a KV
// cache (the encoder runs once) gives the full forward pass's logits, on
// the CPU and WebGPU.
func TestBARTKVCache(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range bartCases()[:2] {
				t.Run(c.name, func(t *testing.T) {
					m, err := NewRandom(c.config(t), b, uint64(i+60))
					require.NoError(t, err)
					defer m.Free()
					in := bartInputs()
					full, _ := logitsOf(t, m, in)
					cache, err := m.NewCache(in.Batch)
					require.NoError(t, err)
					defer cache.Free()
					V := m.Config().VocabSize
					for p := 0; p < in.DecoderSeq; p++ {
						step := &Inputs{Batch: 2, Seq: in.Seq, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask,
							DecoderInputIDs: []int32{in.DecoderInputIDs[p], in.DecoderInputIDs[4+p]}, DecoderSeq: 1}
						g := nn.NewGraph(b, false)
						out := m.ForwardCached(g, step, cache)
						require.NoError(t, g.Err())
						got, err := b.ToFloat32(out.T)
						require.NoError(t, err)
						g.Release()
						for r := 0; r < 2; r++ {
							at := (r*4 + p) * V
							require.InDeltaSlice(t, full[at:at+V], got[r*V:(r+1)*V], 1e-4, "row %d token %d", r, p)
						}
					}
					assert.Equal(t, in.DecoderSeq, cache.Len())
				})
			}
		})
	}
}

// TestBARTGenerate checks that greedy cached generation of a padded batch
// gives each row the tokens full forward passes of that row alone give.
func TestBARTGenerate(t *testing.T) {
	b := testBackend(t)
	for i, c := range bartCases()[:2] {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewRandom(c.config(t), b, uint64(i+70))
			require.NoError(t, err)
			defer m.Free()
			prompts := [][]int32{{17, 4, 9}, {5, 6, 7, 8, 9, 10}, {20}}
			const n = 5
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
			require.NoError(t, err)
			for r, p := range prompts {
				assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
			}
		})
	}
}

// TestBARTLabelsAndErrors checks that labels shift right behind
// decoder_start_token_id (-100 becoming pad) as decoder inputs, and the
// errors of unequal EOS counts and mismatched stacks.
func TestBARTLabelsAndErrors(t *testing.T) {
	b := testBackend(t)
	m, err := NewRandom(bartCases()[0].config(t), b, 3)
	require.NoError(t, err)
	defer m.Free()
	in := bartInputs()
	withDec, _ := logitsOf(t, m, in)
	labels := &Inputs{Batch: 2, Seq: in.Seq, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask,
		Labels: []int32{0, 7, 30, IgnoreIndex, 0, 11, 6, 2}}
	shifted, _ := logitsOf(t, m, labels)
	V := m.Config().VocabSize
	// Row 0: 2 0 7 30 as given; row 1: 2 0 11 6 as given.
	assert.InDeltaSlice(t, withDec, shifted, 1e-5)
	dec, n, err := shiftTokensRight(m.Config(), []int32{5, IgnoreIndex, 3}, 1, "labels")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []int32{2, 5, 1}, dec)
	_ = V

	cls, err := NewRandom(bartCases()[2].config(t), b, 3)
	require.NoError(t, err)
	defer cls.Free()
	g := nn.NewGraph(b, false)
	defer g.Release()
	cls.Forward(g, &Inputs{Batch: 2, Seq: 3, InputIDs: []int32{5, 2, 2, 5, 6, 2}})
	require.Error(t, g.Err())
	assert.Contains(t, g.Err().Error(), "same number of <eos> tokens")

	_, err = ParseConfig([]byte(`{"model_type":"bart","d_model":16,"encoder_attention_heads":4,"decoder_attention_heads":2}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decoder_attention_heads")
}

// TestBARTConfigDefaults checks BartConfig's defaults (facebook/bart-large's
// sizes) and the classification variant's label count.
func TestBARTConfigDefaults(t *testing.T) {
	c := mustConfig(t, `{"model_type":"bart"}`)
	assert.Equal(t, "BartForConditionalGeneration", c.Architecture)
	assert.Equal(t, TaskSeq2SeqLM, c.TaskType)
	got := []int{c.VocabSize, c.Hidden, c.Layers, c.DecoderLayers, c.Heads, c.HeadDim, c.Intermediate, c.MaxPositions,
		c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID, c.NumLabels}
	assert.Equal(t, []int{50265, 1024, 12, 12, 16, 64, 4096, 1024, 1, 2, 2, 3}, got)
	assert.Equal(t, "gelu", c.Act)
	assert.True(t, c.TieWordEmbeddings)
	assert.False(t, c.EmbedScale)
	assert.InDelta(t, 1e-5, c.NormEps, 0)

	cls := mustConfig(t, `{"model_type":"bart","architectures":["BartForSequenceClassification"],
		"id2label":{"0":"a","1":"b"},"scale_embedding":true,"decoder_start_token_id":0}`)
	assert.Equal(t, TaskSeqCls, cls.TaskType)
	assert.Equal(t, 2, cls.NumLabels)
	assert.True(t, cls.EmbedScale)
	assert.Equal(t, 0, cls.DecoderStartTokenID)
}
