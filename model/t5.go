package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// t5 is T5ForConditionalGeneration: an encoder and a decoder stack with
// relative position biases (held by block 0 of each stack, shared by the
// rest), unscaled attention, RMS layer norms and a ReLU or gated-GELU
// feed-forward.
type t5 struct {
	cfg     *Config
	shared  *nn.Embedding
	encoder t5Stack
	decoder t5Stack
	lmHead  *nn.Linear
}

type t5Stack struct {
	embed     *nn.Embedding
	blocks    []t5Block
	relBias   *nn.Embedding // block 0's relative_attention_bias
	finalNorm *nn.Norm
	decoder   bool
}

type t5Block struct {
	selfNorm       *nn.Norm
	q, k, v, o     *nn.Linear
	crossNorm      *nn.Norm // decoder only
	cq, ck, cv, co *nn.Linear
	ffNorm         *nn.Norm
	wi, wi1, wo    *nn.Linear // wi is wi_0 when gated
}

func buildT5(c *Config, t *treeBuilder) *t5 {
	m := &t5{cfg: c}
	t.container("", c.Architecture)
	m.shared = t.embedding("shared", c.VocabSize, c.Hidden)
	m.encoder = buildT5Stack(c, t, "encoder", m.shared.Weight, c.Layers, false)
	m.decoder = buildT5Stack(c, t, "decoder", m.shared.Weight, c.DecoderLayers, true)
	if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.shared.Weight)
	} else {
		m.lmHead = t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m
}

func buildT5Stack(c *Config, t *treeBuilder, name string, shared *nn.Param, layers int, decoder bool) t5Stack {
	s := t5Stack{decoder: decoder}
	inner := c.Heads * c.HeadDim
	// MT5's modules are T5's under MT5 class names.
	cls := "T5"
	if c.ModelType == "mt5" {
		cls = "MT5"
	}
	t.container(name, cls+"Stack")
	s.embed = t.tiedEmbedding(name+".embed_tokens", shared)
	t.container(name+".block", "ModuleList")
	attention := func(p, class string, withBias bool) (q, k, v, o *nn.Linear) {
		t.container(p, class)
		q = t.linear(p+".q", c.Hidden, inner, false, false)
		k = t.linear(p+".k", c.Hidden, inner, false, false)
		v = t.linear(p+".v", c.Hidden, inner, false, false)
		o = t.linear(p+".o", inner, c.Hidden, false, false)
		if withBias {
			s.relBias = t.embedding(p+".relative_attention_bias", c.RelAttnBuckets, c.Heads)
		}
		return
	}
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("%s.block.%d", name, i)
		var b t5Block
		t.container(p, cls+"Block")
		t.container(p+".layer", "ModuleList")
		t.container(p+".layer.0", cls+"LayerSelfAttention")
		b.q, b.k, b.v, b.o = attention(p+".layer.0.SelfAttention", cls+"Attention", i == 0)
		b.selfNorm = t.rmsNorm(p+".layer.0.layer_norm", cls+"LayerNorm", c.Hidden, c.NormEps)
		t.dropout(p + ".layer.0.dropout")
		ff := p + ".layer.1"
		if decoder {
			t.container(p+".layer.1", cls+"LayerCrossAttention")
			b.cq, b.ck, b.cv, b.co = attention(p+".layer.1.EncDecAttention", cls+"Attention", false)
			b.crossNorm = t.rmsNorm(p+".layer.1.layer_norm", cls+"LayerNorm", c.Hidden, c.NormEps)
			t.dropout(p + ".layer.1.dropout")
			ff = p + ".layer.2"
		}
		t.container(ff, cls+"LayerFF")
		d := ff + ".DenseReluDense"
		if c.GatedFF {
			t.container(d, cls+"DenseGatedActDense")
			b.wi = t.linear(d+".wi_0", c.Hidden, c.Intermediate, false, false)
			b.wi1 = t.linear(d+".wi_1", c.Hidden, c.Intermediate, false, false)
		} else {
			t.container(d, cls+"DenseActDense")
			b.wi = t.linear(d+".wi", c.Hidden, c.Intermediate, false, false)
		}
		b.wo = t.linear(d+".wo", c.Intermediate, c.Hidden, false, false)
		t.dropout(d + ".dropout")
		t.activation(d+".act", c.Act)
		b.ffNorm = t.rmsNorm(ff+".layer_norm", cls+"LayerNorm", c.Hidden, c.NormEps)
		t.dropout(ff + ".dropout")
		s.blocks = append(s.blocks, b)
	}
	s.finalNorm = t.rmsNorm(name+".final_layer_norm", cls+"LayerNorm", c.Hidden, c.NormEps)
	t.dropout(name + ".dropout")
	return s
}

func (m *t5) outputLayer() string { return "lm_head" }

// decoderInputs returns the decoder's input ids [B·Tdec]: the given ones,
// or the labels shifted right behind decoder_start_token_id with -100
// replaced by the pad id (transformers' _shift_right).
func (m *t5) decoderInputs(in *Inputs) ([]int32, int, error) {
	if in.DecoderInputIDs != nil {
		return in.DecoderInputIDs, in.DecoderSeq, nil
	}
	return shiftTokensRight(m.cfg, in.Labels, in.Batch, "labels")
}

func (m *t5) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("t5 forward", err)
	}
	decIDs, tdec, err := m.decoderInputs(in)
	if err != nil {
		return g.Fail("t5 forward", err)
	}
	B := in.Batch
	enc, encMask := encodeOnce(g, in, cache, func(mask backend.Tensor) *nn.Value { return m.encode(g, in, mask, act) })

	// Decoder.
	past, decMask, km := decoderMask(g, cache, B, tdec)
	s := &m.decoder
	x := g.Reshape(g.Embedding(s.embed, ints(g, decIDs, B*tdec)), B, tdec, c.Hidden)
	bias := m.relativeBias(g, s, past, tdec, past+tdec)
	for i, b := range s.blocks {
		h := g.Norm(x, b.selfNorm)
		q := splitHeads(g, g.Linear(h, b.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, b.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, b.v), c.Heads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		x = g.Add(x, g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{Causal: true, KeyMask: km, Bias: bias}), b.o))

		h = g.Norm(x, b.crossNorm)
		q = splitHeads(g, g.Linear(h, b.cq), c.Heads, c.HeadDim)
		k, v = crossKV(g, cache, i, enc, b.ck, b.cv, c.Heads, c.HeadDim)
		x = g.Add(x, g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{KeyMask: encMask}), b.co))

		x = g.Add(x, m.feedForward(g, b, g.Norm(x, b.ffNorm), act))
	}
	x = g.Norm(x, s.finalNorm)
	if c.ScaleDecoderOutputs {
		x = g.Affine(x, float32(math.Pow(float64(c.Hidden), -0.5)), 0)
	}
	logits := g.Linear(x, m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(decMask, tdec)
	}
	return logits
}

// encode runs the encoder stack over in.InputIDs, giving [B, T, D].
func (m *t5) encode(g *nn.Graph, in *Inputs, mask backend.Tensor, act backend.Unary) *nn.Value {
	c := m.cfg
	s := &m.encoder
	B, T := in.Batch, in.Seq
	x := g.Reshape(g.Embedding(s.embed, ints(g, in.InputIDs, B*T)), B, T, c.Hidden)
	bias := m.relativeBias(g, s, 0, T, T)
	for _, b := range s.blocks {
		h := g.Norm(x, b.selfNorm)
		q := splitHeads(g, g.Linear(h, b.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, b.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, b.v), c.Heads, c.HeadDim)
		x = g.Add(x, g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{KeyMask: mask, Bias: bias}), b.o))
		x = g.Add(x, m.feedForward(g, b, g.Norm(x, b.ffNorm), act))
	}
	return g.Norm(x, s.finalNorm)
}

// decoderMask returns the number of cached decoder tokens, the mask of
// tdec new ones (all kept: decoder inputs are not padded) and the key mask
// [B, past+tdec] of the decoder's self-attention.
func decoderMask(g *nn.Graph, cache *KVCache, B, tdec int) (int, []float32, backend.Tensor) {
	past := 0
	decMask := make([]float32, B*tdec)
	for i := range decMask {
		decMask[i] = 1
	}
	keyMask := decMask
	if cache != nil {
		past = cache.n
		keyMask = cache.keyMask(decMask, tdec)
	}
	return past, decMask, floats(g, keyMask, B, past+tdec)
}

// encodeOnce runs encode over the attention mask of in, or, continuing a
// cache, returns nothing but the cached encoder mask: the decoder's cross
// keys and values are cached then. The first cached call keeps a copy of
// the mask.
func encodeOnce(g *nn.Graph, in *Inputs, cache *KVCache, encode func(mask backend.Tensor) *nn.Value) (*nn.Value, backend.Tensor) {
	if cache != nil && cache.encSeq != 0 {
		return nil, cache.encMask
	}
	mask := floats(g, in.mask(), in.Batch, in.Seq)
	enc := encode(mask)
	if cache != nil && g.Err() == nil {
		t, err := g.B.Copy(mask)
		if err != nil {
			return g.Fail("forward: cache encoder mask", err), nil
		}
		cache.encMask, cache.encSeq = t, in.Seq
	}
	return enc, mask
}

// crossKV returns a decoder layer's cross-attention keys and values (the
// ck and cv projections of the encoder output, split into heads),
// computing them once per cache.
func crossKV(g *nn.Graph, cache *KVCache, layer int, enc *nn.Value, ck, cv *nn.Linear, heads, headDim int) (*nn.Value, *nn.Value) {
	if cache != nil && cache.cross[layer].k != nil {
		return g.Constant(cache.cross[layer].k), g.Constant(cache.cross[layer].v)
	}
	k := splitHeads(g, g.Linear(enc, ck), heads, headDim)
	v := splitHeads(g, g.Linear(enc, cv), heads, headDim)
	if cache != nil && g.Err() == nil {
		kt, err := g.B.Copy(k.T)
		if err != nil {
			return g.Fail("forward: cache cross keys", err), nil
		}
		vt, err := g.B.Copy(v.T)
		if err != nil {
			g.B.Free(kt)
			return g.Fail("forward: cache cross values", err), nil
		}
		cache.cross[layer] = kvPair{k: kt, v: vt}
	}
	return k, v
}

// feedForward is T5DenseActDense (wo(act(wi·x))) or T5DenseGatedActDense
// (wo(act(wi_0·x) ⊙ wi_1·x)).
func (m *t5) feedForward(g *nn.Graph, b t5Block, h *nn.Value, act backend.Unary) *nn.Value {
	if b.wi1 == nil {
		return g.Linear(g.Act(act, g.Linear(h, b.wi)), b.wo)
	}
	return g.Linear(g.Mul(g.Act(act, g.Linear(h, b.wi)), g.Linear(h, b.wi1)), b.wo)
}

// relativeBias looks the stack's relative position buckets up in block 0's
// table for queries past…past+tq−1 against keys 0…tk−1, giving the
// [H, tq, tk] bias every block of the stack adds to its scores.
func (m *t5) relativeBias(g *nn.Graph, s *t5Stack, past, tq, tk int) backend.Tensor {
	if g.Err() != nil {
		return nil
	}
	c := m.cfg
	ids := make([]int32, tq*tk)
	for i := 0; i < tq; i++ {
		for j := 0; j < tk; j++ {
			ids[i*tk+j] = int32(relativePositionBucket(j-(past+i), !s.decoder, c.RelAttnBuckets, c.RelAttnMaxDistance))
		}
	}
	rows := g.Gather(g.Param(s.relBias.Weight), ints(g, ids, tq*tk))
	bias := g.Permute(g.Reshape(rows, tq, tk, c.Heads), 2, 0, 1)
	if bias == nil {
		return nil
	}
	return bias.T
}

// relativePositionBucket is transformers' T5Attention._relative_position_bucket
// for one relative position (key − query), with its float32 logarithm so
// that the buckets at the boundaries agree.
func relativePositionBucket(rel int, bidirectional bool, numBuckets, maxDistance int) int {
	bucket := 0
	if bidirectional {
		numBuckets /= 2
		if rel > 0 {
			bucket += numBuckets
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		if rel > 0 {
			rel = 0
		}
		rel = -rel
	}
	maxExact := numBuckets / 2
	if rel < maxExact {
		return bucket + rel
	}
	ratio := float32(rel) / float32(maxExact)
	logRatio := float32(math.Log(float64(ratio)))
	scale := float32(math.Log(float64(maxDistance) / float64(maxExact)))
	large := maxExact + int(logRatio/scale*float32(numBuckets-maxExact))
	if large > numBuckets-1 {
		large = numBuckets - 1
	}
	return bucket + large
}
