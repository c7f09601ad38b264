package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// bartPositionOffset is BartLearnedPositionalEmbedding's offset: position
// p reads row p + 2 of embed_positions.
const bartPositionOffset = 2

// bart is BartForConditionalGeneration, BartForSequenceClassification or
// the bare BartModel:
// an encoder and a decoder with learned positions offset by 2, a
// layernorm_embedding after each stack's embeddings, post-norm layers
// (residual, then LayerNorm) with biased k/v/q/out projections scaled by
// head_dim^-½, fc1/fc2 feed-forwards, and either an lm_head tied to the
// shared embedding plus the final_logits_bias buffer, a classification
// head on the decoder state of each row's last EOS token, or none.
type bart struct {
	cfg     *Config
	shared  *nn.Embedding
	encoder bartStack
	decoder bartStack
	// lmHead and logitsBias (final_logits_bias [1, V]) for generation;
	// clsDense and clsOut (classification_head) for classification.
	lmHead           *nn.Linear
	logitsBias       *nn.Param
	clsDense, clsOut *nn.Linear
}

type bartStack struct {
	embed, positions *nn.Embedding
	embNorm          *nn.Norm
	layers           []bartLayer
}

type bartLayer struct {
	q, k, v, out     *nn.Linear
	selfNorm         *nn.Norm
	cq, ck, cv, cout *nn.Linear // decoder only
	crossNorm        *nn.Norm
	fc1, fc2         *nn.Linear
	ffNorm           *nn.Norm
}

func buildBART(c *Config, t *treeBuilder) *bart {
	m := &bart{cfg: c}
	t.container("", c.Architecture)
	prefix := "" // BartModel is the root; the heads hold it as "model"
	if c.TaskType != TaskFeatureExtraction {
		prefix = "model"
		t.container(prefix, "BartModel")
	}
	m.shared = t.embedding(join(prefix, "shared"), c.VocabSize, c.Hidden)
	m.encoder = buildBARTStack(c, t, join(prefix, "encoder"), m.shared.Weight, c.Layers, false)
	m.decoder = buildBARTStack(c, t, join(prefix, "decoder"), m.shared.Weight, c.DecoderLayers, true)
	switch c.TaskType {
	case TaskFeatureExtraction:
		return m
	case TaskSeqCls:
		t.container("classification_head", "BartClassificationHead")
		m.clsDense = t.linear("classification_head.dense", c.Hidden, c.Hidden, true, false)
		t.dropout("classification_head.dropout")
		m.clsOut = t.linear("classification_head.out_proj", c.Hidden, c.NumLabels, true, false)
		return m
	}
	m.logitsBias = t.param("final_logits_bias", 1, c.VocabSize)
	if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.shared.Weight)
	} else {
		m.lmHead = t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m
}

func buildBARTStack(c *Config, t *treeBuilder, name string, shared *nn.Param, layers int, decoder bool) bartStack {
	var s bartStack
	cls := "BartEncoder"
	if decoder {
		cls = "BartDecoder"
	}
	t.container(name, cls)
	s.embed = t.tiedEmbedding(name+".embed_tokens", shared)
	s.positions = t.embedding(name+".embed_positions", c.MaxPositions+bartPositionOffset, c.Hidden)
	t.container(name+".layers", "ModuleList")
	attention := func(p string) (q, k, v, o *nn.Linear) {
		t.container(p, "BartAttention")
		k = t.linear(p+".k_proj", c.Hidden, c.Hidden, true, false)
		v = t.linear(p+".v_proj", c.Hidden, c.Hidden, true, false)
		q = t.linear(p+".q_proj", c.Hidden, c.Hidden, true, false)
		o = t.linear(p+".out_proj", c.Hidden, c.Hidden, true, false)
		return
	}
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("%s.layers.%d", name, i)
		var l bartLayer
		t.container(p, cls+"Layer")
		l.q, l.k, l.v, l.out = attention(p + ".self_attn")
		if decoder {
			// BartDecoderLayer assigns activation_fn before its norms.
			t.activation(p+".activation_fn", c.Act)
			l.selfNorm = t.layerNorm(p+".self_attn_layer_norm", c.Hidden, c.NormEps)
			l.cq, l.ck, l.cv, l.cout = attention(p + ".encoder_attn")
			l.crossNorm = t.layerNorm(p+".encoder_attn_layer_norm", c.Hidden, c.NormEps)
		} else {
			l.selfNorm = t.layerNorm(p+".self_attn_layer_norm", c.Hidden, c.NormEps)
			t.activation(p+".activation_fn", c.Act)
		}
		l.fc1 = t.linear(p+".fc1", c.Hidden, c.Intermediate, true, false)
		l.fc2 = t.linear(p+".fc2", c.Intermediate, c.Hidden, true, false)
		l.ffNorm = t.layerNorm(p+".final_layer_norm", c.Hidden, c.NormEps)
		s.layers = append(s.layers, l)
	}
	s.embNorm = t.layerNorm(name+".layernorm_embedding", c.Hidden, c.NormEps)
	return s
}

// outputLayer is the head PEFT's "all-linear" leaves out: lm_head, or the
// classification_head container, which PEFT subtracts by exact name only
// (it looks for a head named classifier or score), so that
// classification_head.dense and out_proj stay targets, as in PEFT.
func (m *bart) outputLayer() string {
	switch {
	case m.clsOut != nil:
		return "classification_head"
	case m.lmHead == nil:
		return "" // BartModel
	}
	return "lm_head"
}

// decoderInputs returns the decoder's input ids [B·Tdec]: the given ones,
// or shift_tokens_right of the labels (generation) or of input_ids
// (classification, BartModel) behind decoder_start_token_id, -100
// replaced by the pad id.
func (m *bart) decoderInputs(in *Inputs) ([]int32, int, error) {
	if in.DecoderInputIDs != nil {
		return in.DecoderInputIDs, in.DecoderSeq, nil
	}
	if m.lmHead == nil {
		return shiftTokensRight(m.cfg, in.InputIDs, in.Batch, "input_ids")
	}
	return shiftTokensRight(m.cfg, in.Labels, in.Batch, "labels")
}

// shiftTokensRight is transformers' shift_tokens_right (T5's _shift_right):
// each row of src [batch, T] moved one place right behind
// decoder_start_token_id, with -100 replaced by the pad id.
func shiftTokensRight(c *Config, src []int32, batch int, what string) ([]int32, int, error) {
	if src == nil || batch == 0 || len(src)%batch != 0 {
		return nil, 0, fmt.Errorf("%s needs decoder_input_ids or %s [batch, decoder_seq] (got %d %s for batch %d)",
			c.ModelType, what, len(src), what, batch)
	}
	t := len(src) / batch
	out := make([]int32, len(src))
	for b := 0; b < batch; b++ {
		out[b*t] = int32(c.DecoderStartTokenID)
		for i := 1; i < t; i++ {
			id := src[b*t+i-1]
			if id == IgnoreIndex {
				id = int32(c.PadTokenID)
			}
			out[b*t+i] = id
		}
	}
	if err := checkIDs("decoder_input_ids (shifted "+what+")", out, len(out), c.VocabSize); err != nil {
		return nil, 0, err
	}
	return out, t, nil
}

// embed returns the stack's embed_tokens(ids)·embed_scale + positions
// past…past+T−1 (offset by 2), through layernorm_embedding: [B, T, D].
func (m *bart) embed(g *nn.Graph, s *bartStack, ids []int32, B, T, past int) *nn.Value {
	c := m.cfg
	if past+T > c.MaxPositions {
		return g.Fail("bart forward", fmt.Errorf("position %d is past max_position_embeddings %d", past+T-1, c.MaxPositions))
	}
	x := g.Embedding(s.embed, ints(g, ids, B*T))
	if c.EmbedScale {
		x = g.Affine(x, float32(math.Sqrt(float64(c.Hidden))), 0)
	}
	pos := make([]int32, T)
	for i := range pos {
		pos[i] = int32(past + i + bartPositionOffset)
	}
	x = g.Add(g.Reshape(x, B, T, c.Hidden), g.Embedding(s.positions, ints(g, pos, T)))
	return g.Norm(x, s.embNorm)
}

// attention is BartAttention: q_proj scaled by head_dim^-½ against k and v.
func (m *bart) attention(g *nn.Graph, q, k, v *nn.Value, out *nn.Linear, o backend.SoftmaxOptions) *nn.Value {
	c := m.cfg
	o.Scale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	return g.Linear(attend(g, q, k, v, o), out)
}

// feedForward is fc2(act(fc1(x))) added to x, then final_layer_norm.
func (m *bart) feedForward(g *nn.Graph, l bartLayer, x *nn.Value, act backend.Unary) *nn.Value {
	return g.Norm(g.Add(x, g.Linear(g.Act(act, g.Linear(x, l.fc1)), l.fc2)), l.ffNorm)
}

// encode runs the encoder over in.InputIDs, giving [B, T, D].
func (m *bart) encode(g *nn.Graph, in *Inputs, mask backend.Tensor, act backend.Unary) *nn.Value {
	c := m.cfg
	s := &m.encoder
	x := m.embed(g, s, in.InputIDs, in.Batch, in.Seq, 0)
	for _, l := range s.layers {
		q := splitHeads(g, g.Linear(x, l.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(x, l.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(x, l.v), c.Heads, c.HeadDim)
		x = g.Norm(g.Add(x, m.attention(g, q, k, v, l.out, backend.SoftmaxOptions{KeyMask: mask})), l.selfNorm)
		x = m.feedForward(g, l, x, act)
	}
	return x
}

func (m *bart) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("bart forward", err)
	}
	if cache != nil && m.lmHead == nil {
		return g.Fail("bart forward", fmt.Errorf("%s has no KV cache", c.Architecture))
	}
	decIDs, tdec, err := m.decoderInputs(in)
	if err != nil {
		return g.Fail("bart forward", err)
	}
	B := in.Batch
	enc, encMask := encodeOnce(g, in, cache, func(mask backend.Tensor) *nn.Value { return m.encode(g, in, mask, act) })

	past, decMask, km := decoderMask(g, cache, B, tdec)
	s := &m.decoder
	x := m.embed(g, s, decIDs, B, tdec, past)
	for i, l := range s.layers {
		q := splitHeads(g, g.Linear(x, l.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(x, l.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(x, l.v), c.Heads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		x = g.Norm(g.Add(x, m.attention(g, q, k, v, l.out, backend.SoftmaxOptions{Causal: true, KeyMask: km})), l.selfNorm)

		q = splitHeads(g, g.Linear(x, l.cq), c.Heads, c.HeadDim)
		k, v = crossKV(g, cache, i, enc, l.ck, l.cv, c.Heads, c.HeadDim)
		x = g.Norm(g.Add(x, m.attention(g, q, k, v, l.cout, backend.SoftmaxOptions{KeyMask: encMask})), l.crossNorm)

		x = m.feedForward(g, l, x, act)
	}
	switch {
	case m.clsOut != nil:
		return m.classify(g, in, x)
	case m.lmHead == nil:
		return x // BartModel: the decoder's last hidden state
	}
	logits := g.Add(g.Linear(x, m.lmHead), g.Reshape(g.Param(m.logitsBias), c.VocabSize))
	if cache != nil && g.Err() == nil {
		cache.commit(decMask, tdec)
	}
	return logits
}

// classify is BartForSequenceClassification's pooling and head: the
// decoder state at each row's last eos_token_id in input_ids (every row
// must hold as many), then out_proj(tanh(dense(·))).
func (m *bart) classify(g *nn.Graph, in *Inputs, x *nn.Value) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	c := m.cfg
	s := x.Shape()
	B, T := s[0], s[1]
	if T != in.Seq {
		return g.Fail("bart classification", fmt.Errorf("decoder_input_ids have %d tokens, input_ids %d: the EOS pooling needs equal lengths", T, in.Seq))
	}
	rows := make([]int32, B)
	count := -1
	for b := 0; b < B; b++ {
		n, last := 0, -1
		for t := 0; t < T; t++ {
			if int(in.InputIDs[b*T+t]) == c.EOSTokenID {
				n, last = n+1, t
			}
		}
		if n == 0 || (count >= 0 && n != count) {
			return g.Fail("bart classification", fmt.Errorf("all examples must have the same number of <eos> tokens (id %d): row %d has %d", c.EOSTokenID, b, n))
		}
		count = n
		rows[b] = int32(b*T + last)
	}
	h := g.Gather(g.Reshape(x, B*T, s[2]), ints(g, rows, B))
	return g.Linear(g.Act(backend.Tanh, g.Linear(h, m.clsDense)), m.clsOut)
}
