package model

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// DeBERTaConfig holds the fields of DebertaConfig ("deberta") and
// DebertaV2Config ("deberta-v2") that no other family reads.
type DeBERTaConfig struct {
	// EmbeddingSize is the width of the embedding tables (embedding_size,
	// hidden_size by default); embed_proj maps it to hidden_size when they
	// differ.
	EmbeddingSize int
	// PositionBiasedInput adds absolute position embeddings to the input
	// (position_biased_input); DeBERTa-v3 turns it off.
	PositionBiasedInput bool
	// RelativeAttention builds rel_embeddings and the disentangled terms
	// (relative_attention).
	RelativeAttention bool
	// MaxRelativePositions is max_relative_positions, or
	// max_position_embeddings where it is below 1, as transformers
	// resolves it.
	MaxRelativePositions int
	// PositionBuckets is position_buckets (v2; -1 without log buckets).
	PositionBuckets int
	// C2P and P2C are the members of pos_att_type: content-to-position and
	// position-to-content attention.
	C2P, P2C bool
	// ShareAttKey projects the relative embeddings with key_proj and
	// query_proj instead of pos_key_proj and pos_query_proj (v2).
	ShareAttKey bool
	// NormRelEmbed applies encoder.LayerNorm to rel_embeddings (v2
	// norm_rel_ebd "layer_norm").
	NormRelEmbed bool
	// PoolerAct is pooler_hidden_act, ContextPooler's activation.
	PoolerAct string
	// ConvKernel, when > 0, adds v2's encoder.conv (ConvLayer: a Conv1d
	// of this odd kernel size over the embeddings, conv_act, added to the
	// first layer's output and normalised), as deberta-v2-xlarge and
	// -xxlarge have; ConvAct is conv_act (tanh by default).
	ConvKernel int
	ConvAct    string
	// TalkingHead mixes the heads' scores before the softmax
	// (head_logits_proj) and their probabilities after it
	// (head_weights_proj), v1's talking_head.
	TalkingHead bool
}

// scaleFactor is 1 plus the number of disentangled terms: the attention
// logits are divided by √(head_dim · scaleFactor).
func (d *DeBERTaConfig) scaleFactor() int {
	n := 1
	if d.C2P {
		n++
	}
	if d.P2C {
		n++
	}
	return n
}

// span is the attention span the relative embeddings cover on each side:
// position_buckets, else max_relative_positions (v2's pos_ebd_size; v1
// narrows it to the sequence, see relRows).
func (d *DeBERTaConfig) span() int {
	if d.PositionBuckets > 0 {
		return d.PositionBuckets
	}
	return d.MaxRelativePositions
}

// parseDeBERTa reads DebertaConfig and DebertaV2Config. Their defaults are
// those of microsoft/deberta-base and deberta-v2-xlarge (absolute
// positions, no relative attention unless the file asks for it).
func parseDeBERTa(p *cfgParser, c *Config) {
	v2 := c.ModelType == "deberta-v2"
	d := &DeBERTaConfig{}
	c.DeBERTa = d
	if v2 {
		c.VocabSize = p.int("vocab_size", 128100)
		c.Hidden = p.int("hidden_size", 1536)
		c.Layers = p.int("num_hidden_layers", 24)
		c.Heads = p.int("num_attention_heads", 24)
		c.Intermediate = p.int("intermediate_size", 6144)
	} else {
		c.VocabSize = p.int("vocab_size", 50265)
		c.Hidden = p.int("hidden_size", 768)
		c.Layers = p.int("num_hidden_layers", 12)
		c.Heads = p.int("num_attention_heads", 12)
		c.Intermediate = p.int("intermediate_size", 3072)
	}
	c.KVHeads = c.Heads
	c.Act = p.str("hidden_act", "gelu")
	if _, err := activation(c.Act); err != nil {
		p.fail("hidden_act", err.Error())
	}
	c.MaxPositions = p.int("max_position_embeddings", 512)
	c.TypeVocabSize = p.int("type_vocab_size", 0)
	c.NormEps = p.float("layer_norm_eps", 1e-7)
	if c.PadTokenID < 0 {
		c.PadTokenID = 0
	}
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
		if c.Hidden%c.Heads != 0 {
			p.fail("num_attention_heads", fmt.Sprintf("%d does not divide hidden_size %d", c.Heads, c.Hidden))
		}
	}
	if v2 {
		if ahs := p.int("attention_head_size", c.HeadDim); ahs != c.HeadDim {
			p.fail("attention_head_size", fmt.Sprintf("%d is not hidden_size/num_attention_heads = %d (not supported: the attention output projection is hidden_size wide)", ahs, c.HeadDim))
		}
	}
	d.EmbeddingSize = p.int("embedding_size", c.Hidden)
	if d.EmbeddingSize <= 0 || d.EmbeddingSize > MaxDimension {
		p.fail("embedding_size", fmt.Sprintf("must be in [1, %d], got %d", MaxDimension, d.EmbeddingSize))
	}
	if c.TypeVocabSize < 0 || c.TypeVocabSize > MaxDimension {
		p.fail("type_vocab_size", fmt.Sprintf("must be in [0, %d], got %d", MaxDimension, c.TypeVocabSize))
	}
	d.PositionBiasedInput = p.bool("position_biased_input", true)
	d.RelativeAttention = p.bool("relative_attention", false)
	d.MaxRelativePositions = p.int("max_relative_positions", -1)
	if d.MaxRelativePositions < 1 {
		d.MaxRelativePositions = c.MaxPositions
	}
	if d.MaxRelativePositions > MaxDimension {
		p.fail("max_relative_positions", fmt.Sprintf("must be at most %d, got %d", MaxDimension, d.MaxRelativePositions))
	}
	d.PositionBuckets = -1
	if v2 {
		d.PositionBuckets = p.int("position_buckets", -1)
		if d.PositionBuckets > MaxDimension {
			p.fail("position_buckets", fmt.Sprintf("must be at most %d, got %d", MaxDimension, d.PositionBuckets))
		}
		// make_log_bucket_position divides by log((max_relative_positions
		// − 1)/mid): it must be positive for the buckets to be finite.
		if mid := d.PositionBuckets / 2; d.PositionBuckets > 0 && d.RelativeAttention && (mid < 1 || d.MaxRelativePositions-1 <= mid) {
			p.fail("position_buckets", fmt.Sprintf("%d needs max_relative_positions (%d) − 1 above position_buckets/2 and position_buckets ≥ 2", d.PositionBuckets, d.MaxRelativePositions))
		}
		d.ShareAttKey = p.bool("share_att_key", false)
		norm := strings.ToLower(p.str("norm_rel_ebd", "none"))
		for _, s := range strings.Split(norm, "|") {
			switch strings.TrimSpace(s) {
			case "layer_norm":
				d.NormRelEmbed = true
			case "none", "":
			default:
				p.fail("norm_rel_ebd", fmt.Sprintf("%q is not supported (none or layer_norm)", s))
			}
		}
		if k := p.int("conv_kernel_size", 0); k > 0 {
			d.ConvKernel = k
			if k%2 == 0 || k > MaxDimension {
				// padding (k − 1)/2 leaves an even kernel's output one
				// token short, which transformers fails on too.
				p.fail("conv_kernel_size", fmt.Sprintf("%d: only odd kernel sizes up to %d keep the sequence length", k, MaxDimension))
			}
			if g := p.int("conv_groups", 1); g != 1 {
				p.fail("conv_groups", fmt.Sprintf("%d: grouped convolution is not supported (only 1)", g))
			}
			d.ConvAct = p.str("conv_act", "tanh")
			if _, err := activation(d.ConvAct); err != nil {
				p.fail("conv_act", err.Error())
			}
		}
	} else {
		d.TalkingHead = p.bool("talking_head", false)
	}
	// The tables paramSplit does not count: relative and absolute
	// position embeddings.
	if rows := 2 * max(d.MaxRelativePositions, d.PositionBuckets); d.RelativeAttention &&
		float64(rows)*float64(c.Hidden)+float64(c.MaxPositions)*float64(d.EmbeddingSize) > MaxParams {
		p.fail("max_relative_positions", fmt.Sprintf("%d relative position rows of %d features are over the limit of %d parameters", rows, c.Hidden, int64(MaxParams)))
	}
	parsePosAttType(p, d)
	d.PoolerAct = p.str("pooler_hidden_act", "gelu")
	if _, err := activation(d.PoolerAct); err != nil {
		p.fail("pooler_hidden_act", err.Error())
	}
	if ph := p.int("pooler_hidden_size", c.Hidden); ph != c.Hidden {
		p.fail("pooler_hidden_size", fmt.Sprintf("%d differs from hidden_size %d (ContextPooler's output feeds a hidden_size classifier; not supported)", ph, c.Hidden))
	}
	parseLabels(p, c, 2)
	if c.TaskType == TaskSeqCls && (c.NumLabels < 1 || c.NumLabels > MaxDimension) {
		p.fail("num_labels", fmt.Sprintf("must be in [1, %d], got %d", MaxDimension, c.NumLabels))
	}
}

// parsePosAttType reads pos_att_type: null, a list, or the older
// "c2p|p2c" string, each entry c2p or p2c at most once.
func parsePosAttType(p *cfgParser, d *DeBERTaConfig) {
	var kinds []string
	switch v := p.value("pos_att_type").(type) {
	case nil:
	case string:
		for _, s := range strings.Split(strings.ToLower(v), "|") {
			kinds = append(kinds, strings.TrimSpace(s))
		}
	default:
		kinds = p.strings("pos_att_type")
	}
	for _, k := range kinds {
		dup := false
		switch k {
		case "c2p":
			dup, d.C2P = d.C2P, true
		case "p2c":
			dup, d.P2C = d.P2C, true
		default:
			p.fail("pos_att_type", fmt.Sprintf("%q is not supported (c2p, p2c)", k))
			return
		}
		if dup {
			p.fail("pos_att_type", fmt.Sprintf("%q is listed twice", k))
			return
		}
	}
}

// deberta is DebertaModel / DebertaV2Model, optionally under
// …ForSequenceClassification: ContextPooler (dense on the first token,
// then pooler_hidden_act) and classifier.
type deberta struct {
	cfg *Config
	d   *DeBERTaConfig
	v2  bool
	// words, positions (nil without position_biased_input) and types (nil
	// when type_vocab_size is 0) are the embedding tables; embedProj maps
	// embedding_size to hidden_size when they differ.
	words, positions, types *nn.Embedding
	embedProj               *nn.Linear
	embNorm                 *nn.Norm
	// relEmb is encoder.rel_embeddings, relNorm encoder.LayerNorm (v2's
	// norm_rel_ebd), both nil where unused.
	relEmb  *nn.Embedding
	relNorm *nn.Norm
	// conv (encoder.conv.conv, a Conv1d with weight [out, in, kernel] and
	// bias) and convNorm (encoder.conv.LayerNorm) are v2's ConvLayer, nil
	// without conv_kernel_size.
	conv               *paramModule
	convNorm           *nn.Norm
	layers             []debertaLayer
	pooler, classifier *nn.Linear
}

// debertaLayer is one DebertaLayer / DebertaV2Layer.
type debertaLayer struct {
	// v2: query_proj, key_proj, value_proj.
	q, k, v *nn.Linear
	// v1: in_proj (q, k, v of each head side by side, bias-free) and
	// attention.self, which holds the q_bias and v_bias parameters (read
	// through it, so that a modules_to_save copy takes their place).
	inProj *nn.Linear
	self   *paramModule
	// headLogits and headWeights are v1's talking-head projections
	// (head_logits_proj, head_weights_proj), nil without talking_head.
	headLogits, headWeights *nn.Linear
	// posKey and posQuery project the relative embeddings for c2p and p2c:
	// v2's pos_key_proj/pos_query_proj (key_proj/query_proj under
	// share_att_key), v1's pos_proj/pos_q_proj; nil where unused.
	posKey, posQuery *nn.Linear
	attnOut          *nn.Linear
	attnNorm         *nn.Norm
	inter, out       *nn.Linear
	outNorm          *nn.Norm
}

func buildDeBERTa(c *Config, t *treeBuilder) *deberta {
	d := c.DeBERTa
	m := &deberta{cfg: c, d: d, v2: c.ModelType == "deberta-v2"}
	cls := "Deberta"
	norm := func(name string, dim int) *nn.Norm {
		n := t.layerNorm(name, dim, c.NormEps)
		if !m.v2 {
			n.Class = "DebertaLayerNorm" // the same maths as torch's LayerNorm
		}
		return n
	}
	if m.v2 {
		cls = "DebertaV2"
	}
	head := c.TaskType == TaskSeqCls
	prefix := ""
	if head {
		t.container("", c.Architecture)
		prefix = "deberta"
	}
	t.container(prefix, cls+"Model")
	e := join(prefix, "embeddings")
	t.container(e, cls+"Embeddings")
	E := d.EmbeddingSize
	m.words = t.embedding(e+".word_embeddings", c.VocabSize, E)
	if d.PositionBiasedInput {
		m.positions = t.embedding(e+".position_embeddings", c.MaxPositions, E)
	}
	if c.TypeVocabSize > 0 {
		m.types = t.embedding(e+".token_type_embeddings", c.TypeVocabSize, E)
	}
	if E != c.Hidden {
		m.embedProj = t.linear(e+".embed_proj", E, c.Hidden, false, false)
	}
	m.embNorm = norm(e+".LayerNorm", c.Hidden)
	t.dropout(e + ".dropout")
	enc := join(prefix, "encoder")
	t.container(enc, cls+"Encoder")
	t.container(enc+".layer", "ModuleList")
	H := c.Heads * c.HeadDim
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("%s.layer.%d", enc, i)
		var l debertaLayer
		t.container(p, cls+"Layer")
		t.container(p+".attention", cls+"Attention")
		s := p + ".attention.self"
		if m.v2 {
			t.container(s, "DisentangledSelfAttention")
			l.q = t.linear(s+".query_proj", c.Hidden, H, true, false)
			l.k = t.linear(s+".key_proj", c.Hidden, H, true, false)
			l.v = t.linear(s+".value_proj", c.Hidden, H, true, false)
		} else {
			// The module's own parameters come before its children's in
			// named_parameters() and the state dict.
			l.self = &paramModule{class: "DisentangledSelfAttention", params: map[string]*nn.Param{}}
			t.add(s, l.self)
			l.self.params["q_bias"] = t.param(s+".q_bias", H)
			l.self.params["v_bias"] = t.param(s+".v_bias", H)
			l.inProj = t.linear(s+".in_proj", c.Hidden, 3*H, false, false)
			if d.TalkingHead {
				l.headLogits = t.linear(s+".head_logits_proj", c.Heads, c.Heads, false, false)
				l.headWeights = t.linear(s+".head_weights_proj", c.Heads, c.Heads, false, false)
			}
		}
		if d.RelativeAttention {
			t.dropout(s + ".pos_dropout")
			switch {
			case m.v2 && d.ShareAttKey:
				l.posKey, l.posQuery = l.k, l.q
			case m.v2:
				if d.C2P {
					l.posKey = t.linear(s+".pos_key_proj", c.Hidden, H, true, false)
				}
				if d.P2C {
					l.posQuery = t.linear(s+".pos_query_proj", c.Hidden, H, true, false)
				}
			default:
				if d.C2P {
					l.posKey = t.linear(s+".pos_proj", c.Hidden, H, false, false)
				}
				if d.P2C {
					l.posQuery = t.linear(s+".pos_q_proj", c.Hidden, H, true, false)
				}
			}
		}
		t.dropout(s + ".dropout")
		t.container(p+".attention.output", cls+"SelfOutput")
		l.attnOut = t.linear(p+".attention.output.dense", c.Hidden, c.Hidden, true, false)
		l.attnNorm = norm(p+".attention.output.LayerNorm", c.Hidden)
		t.dropout(p + ".attention.output.dropout")
		t.container(p+".intermediate", cls+"Intermediate")
		l.inter = t.linear(p+".intermediate.dense", c.Hidden, c.Intermediate, true, false)
		t.activation(p+".intermediate.intermediate_act_fn", c.Act)
		t.container(p+".output", cls+"Output")
		l.out = t.linear(p+".output.dense", c.Intermediate, c.Hidden, true, false)
		l.outNorm = norm(p+".output.LayerNorm", c.Hidden)
		t.dropout(p + ".output.dropout")
		m.layers = append(m.layers, l)
	}
	if d.RelativeAttention {
		rows := 2 * d.MaxRelativePositions
		if m.v2 && d.PositionBuckets > 0 {
			rows = 2 * d.PositionBuckets
		}
		m.relEmb = t.embedding(enc+".rel_embeddings", rows, c.Hidden)
	}
	if m.v2 && d.NormRelEmbed {
		m.relNorm = t.layerNorm(enc+".LayerNorm", c.Hidden, c.NormEps)
	}
	if m.v2 && d.ConvKernel > 0 {
		cp := enc + ".conv"
		t.container(cp, "ConvLayer")
		m.conv = &paramModule{class: "Conv1d", params: map[string]*nn.Param{}}
		t.add(cp+".conv", m.conv)
		m.conv.params["weight"] = t.param(cp+".conv.weight", c.Hidden, c.Hidden, d.ConvKernel)
		m.conv.params["bias"] = t.param(cp+".conv.bias", c.Hidden)
		m.convNorm = t.layerNorm(cp+".LayerNorm", c.Hidden, c.NormEps)
		t.dropout(cp + ".dropout")
	}
	if !head {
		return m
	}
	t.container("pooler", "ContextPooler")
	m.pooler = t.linear("pooler.dense", c.Hidden, c.Hidden, true, false)
	t.dropout("pooler.dropout")
	m.classifier = t.linear("classifier", c.Hidden, c.NumLabels, true, false)
	t.dropout("dropout")
	return m
}

// outputLayer is the classification head PEFT's "all-linear" leaves out
// ("classifier"), or "" for the bare model.
func (m *deberta) outputLayer() string {
	if m.classifier == nil {
		return ""
	}
	return "classifier"
}

// logBucket is transformers' make_log_bucket_position for one relative
// position, in float32 as torch computes it: positions within ±mid keep
// their value, farther ones share logarithmically wider buckets up to
// maxPosition.
func logBucket(rel, bucketSize, maxPosition int) int {
	mid := bucketSize / 2
	abs := rel
	if abs < 0 {
		abs = -abs
	}
	if rel < mid && rel > -mid {
		abs = mid - 1
	}
	if abs <= mid {
		return rel
	}
	ratio := float32(abs) / float32(mid)
	den := float32(math.Log(float64(float32(float64(maxPosition-1) / float64(mid)))))
	x := float32(math.Log(float64(ratio))) / den * float32(mid-1)
	pos := int(math.Ceil(float64(x))) + mid
	if rel < 0 {
		return -pos
	}
	return pos
}

// relativePosition is build_relative_position's entry for query i and key
// j: i − j, log-bucketed when position_buckets is set (v2).
func (d *DeBERTaConfig) relativePosition(i, j int) int {
	r := i - j
	if d.PositionBuckets > 0 && d.MaxRelativePositions > 0 {
		r = logBucket(r, d.PositionBuckets, d.MaxRelativePositions)
	}
	return r
}

// relRows returns, for a sequence of T tokens, the row of rel_embeddings
// that c2p and p2c read for query i and key j ([i·T + j]), as
// disentangled_attention_bias clamps and gathers them:
//
//	c2p: clamp(r(i, j) + span, 0, 2·span − 1)
//	p2c: clamp(−r(j, i) + span, 0, 2·span − 1)
//
// v2's span is position_buckets or max_relative_positions and its table
// is used whole; v1's span is min(T, max_relative_positions) over the rows
// max_relative_positions − span … of its table, so an offset is added.
func (m *deberta) relRows(T int) (c2p, p2c []int) {
	d := m.d
	span, offset := d.span(), 0
	if !m.v2 {
		span = min(T, d.MaxRelativePositions)
		offset = d.MaxRelativePositions - span
	}
	clamp := func(x int) int { return offset + max(0, min(x, 2*span-1)) }
	c2p, p2c = make([]int, T*T), make([]int, T*T)
	for i := 0; i < T; i++ {
		for j := 0; j < T; j++ {
			c2p[i*T+j] = clamp(d.relativePosition(i, j) + span)
			p2c[i*T+j] = clamp(-d.relativePosition(j, i) + span)
		}
	}
	return c2p, p2c
}

// debertaAttn is what every layer shares: the key mask, the masks that
// give padded query rows transformers' uniform attention, the relative
// embedding rows in use and the flat gather indices of c2p and p2c.
type debertaAttn struct {
	keyMask backend.Tensor
	// keep [B, H, T, T] is 1 on the rows of real queries; uniform is 1/T on
	// the rows of padding queries: probs ⊙ keep + uniform. Both nil when
	// no token is padding.
	keep, uniform *nn.Value
	// rel is the relative embeddings' rows lo … lo+R−1 [R, hidden] (after
	// v2's LayerNorm); nil without relative attention.
	rel *nn.Value
	// c2pIdx and p2cIdx [B·H·T·T] index the flattened [H, B·T, R] products
	// of queries (keys) with the projected relative embeddings.
	c2pIdx, p2cIdx backend.Tensor
}

func (m *deberta) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c, d := m.cfg, m.d
	if cache != nil {
		return g.Fail("deberta forward", fmt.Errorf("%s is an encoder: no KV cache", c.Architecture))
	}
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("deberta forward", fmt.Errorf("hidden_act: %w", err))
	}
	B, T := in.Batch, in.Seq
	x := g.Embedding(m.words, ints(g, in.InputIDs, B*T))
	if m.positions != nil {
		pos := positions(in, 0)
		for i, p := range pos {
			if int(p) >= c.MaxPositions {
				return g.Fail("deberta forward", fmt.Errorf("position %d of token %d is past max_position_embeddings %d", p, i, c.MaxPositions))
			}
		}
		x = g.Add(x, g.Embedding(m.positions, ints(g, pos, B*T)))
	}
	if m.types != nil {
		types := in.TokenTypeIDs
		if types == nil {
			types = make([]int32, B*T)
		}
		x = g.Add(x, g.Embedding(m.types, ints(g, types, B*T)))
	}
	x = g.Reshape(x, B, T, d.EmbeddingSize)
	if m.embedProj != nil {
		x = g.Linear(x, m.embedProj)
	}
	x = g.Norm(x, m.embNorm)
	mask := in.mask()
	padded := false
	for _, v := range mask {
		padded = padded || v == 0
	}
	var maskFull *nn.Value // the mask broadcast over features, when padded
	if padded {
		full := make([]float32, B*T*c.Hidden)
		for i, v := range mask {
			for k := 0; k < c.Hidden; k++ {
				full[i*c.Hidden+k] = v
			}
		}
		maskFull = g.Constant(floats(g, full, B, T, c.Hidden))
		// DebertaEmbeddings multiplies its output by the attention mask.
		x = g.Mul(x, maskFull)
	}
	emb := x
	sh := m.shared(g, mask, B, T, padded)
	for i, l := range m.layers {
		a := m.attention(g, x, l, sh)
		x = g.Norm(g.Add(g.Linear(a, l.attnOut), x), l.attnNorm)
		h := g.Linear(g.Act(act, g.Linear(x, l.inter)), l.out)
		x = g.Norm(g.Add(h, x), l.outNorm)
		if i == 0 && m.conv != nil {
			x = m.convLayer(g, emb, x, maskFull)
		}
	}
	if m.classifier == nil {
		return x
	}
	pact, err := activation(d.PoolerAct)
	if err != nil {
		return g.Fail("deberta forward", fmt.Errorf("pooler_hidden_act: %w", err))
	}
	pooled := g.Act(pact, g.Linear(firstTokens(g, x), m.pooler))
	return g.Linear(pooled, m.classifier)
}

// shared prepares what every layer's attention reads; mask is [B·T].
func (m *deberta) shared(g *nn.Graph, mask []float32, B, T int, padded bool) *debertaAttn {
	c, d := m.cfg, m.d
	H := c.Heads
	// The gathers index B·H·T·T scores in up to H·B·T·2T products with
	// I32 ids (a sequence reads at most 2T − 1 relative rows).
	if n := 2 * int64(H) * int64(B) * int64(T) * int64(T); n > math.MaxInt32 && d.RelativeAttention && (d.C2P || d.P2C) {
		g.Fail("deberta attention", fmt.Errorf("batch %d × %d tokens × %d heads needs up to %d relative-attention products per layer, over the %d that I32 indices address; use a smaller batch or shorter sequences", B, T, H, n, math.MaxInt32))
		return nil
	}
	sh := &debertaAttn{keyMask: floats(g, mask, B, T)}
	if padded {
		// transformers masks score (i, j) unless both tokens are real and
		// fills masked scores with the float minimum: a real query's
		// padded keys get probability 0 (the key mask), and a padding
		// query, every score equal, attends uniformly to all T keys.
		keep := make([]float32, B*H*T*T)
		uni := make([]float32, B*H*T*T)
		for b := 0; b < B; b++ {
			for h := 0; h < H; h++ {
				for i := 0; i < T; i++ {
					row := ((b*H+h)*T + i) * T
					for j := 0; j < T; j++ {
						if mask[b*T+i] != 0 {
							keep[row+j] = 1
						} else {
							uni[row+j] = 1 / float32(T)
						}
					}
				}
			}
		}
		sh.keep = g.Constant(floats(g, keep, B, H, T, T))
		sh.uniform = g.Constant(floats(g, uni, B, H, T, T))
	}
	if !d.RelativeAttention || !(d.C2P || d.P2C) {
		return sh
	}
	c2p, p2c := m.relRows(T)
	lo, hi := math.MaxInt, -1
	for _, rows := range [][]int{c2p, p2c} {
		for _, r := range rows {
			lo, hi = min(lo, r), max(hi, r)
		}
	}
	R := hi - lo + 1
	ids := make([]int32, R)
	for i := range ids {
		ids[i] = int32(lo + i)
	}
	// Only the rows a sequence this long reads are projected (LayerNorm
	// and the projections act row by row).
	sh.rel = g.Embedding(m.relEmb, ints(g, ids, R))
	if m.relNorm != nil {
		sh.rel = g.Norm(sh.rel, m.relNorm)
	}
	index := func(rows []int, byKey bool) backend.Tensor {
		idx := make([]int32, B*H*T*T)
		for b := 0; b < B; b++ {
			for h := 0; h < H; h++ {
				for i := 0; i < T; i++ {
					for j := 0; j < T; j++ {
						tok := i // c2p reads query i's products
						if byKey {
							tok = j // p2c reads key j's
						}
						idx[((b*H+h)*T+i)*T+j] = int32(((h*B+b)*T+tok)*R + rows[i*T+j] - lo)
					}
				}
			}
		}
		return ints(g, idx, B*H*T*T)
	}
	if d.C2P {
		sh.c2pIdx = index(c2p, false)
	}
	if d.P2C {
		sh.p2cIdx = index(p2c, true)
	}
	return sh
}

// attention is DisentangledSelfAttention over x [B, T, hidden], giving the
// context [B, T, hidden] before attention.output.
func (m *deberta) attention(g *nn.Graph, x *nn.Value, l debertaLayer, sh *debertaAttn) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	c, d := m.cfg, m.d
	H, D := c.Heads, c.HeadDim
	s := x.Shape()
	B, T := s[0], s[1]
	var q, k, v *nn.Value
	if m.v2 {
		q = splitHeads(g, g.Linear(x, l.q), H, D)
		k = splitHeads(g, g.Linear(x, l.k), H, D)
		v = splitHeads(g, g.Linear(x, l.v), H, D)
	} else {
		// in_proj's output holds each head's query, key and value side by
		// side; q_bias and v_bias are laid out head by head.
		qkv := g.Reshape(g.Linear(x, l.inProj), B, T, H, 3*D)
		part := func(i int) *nn.Value { return g.Reshape(g.Narrow(qkv, 3, i*D, D), B, T, H*D) }
		q = splitHeads(g, g.Add(part(0), g.Param(l.self.params["q_bias"])), H, D)
		k = splitHeads(g, part(1), H, D)
		v = splitHeads(g, g.Add(part(2), g.Param(l.self.params["v_bias"])), H, D)
	}
	scores := g.MatMul(q, k, backend.MatMulOptions{TransB: true})
	// c2p and p2c: the products of every query (key) with every projected
	// relative embedding, [H, B·T, R], of which each (i, j) picks one.
	rel := func(states *nn.Value, proj *nn.Linear, idx backend.Tensor) *nn.Value {
		R := sh.rel.Shape()[0]
		pos := g.Permute(g.Reshape(g.Linear(sh.rel, proj), R, H, D), 1, 0, 2)
		byHead := g.Reshape(g.Permute(states, 1, 0, 2, 3), H, B*T, D)
		prod := g.MatMul(byHead, pos, backend.MatMulOptions{TransB: true})
		return g.Reshape(g.Gather(g.Reshape(prod, H*B*T*R, 1), idx), B, H, T, T)
	}
	if sh.c2pIdx != nil {
		scores = g.Add(scores, rel(q, l.posKey, sh.c2pIdx))
	}
	if sh.p2cIdx != nil {
		scores = g.Add(scores, rel(k, l.posQuery, sh.p2cIdx))
	}
	// mixHeads applies a talking-head projection across the heads of
	// [B, H, T, T]; it is linear, so it commutes with the softmax's scale.
	mixHeads := func(x *nn.Value, l *nn.Linear) *nn.Value {
		return g.Permute(g.Linear(g.Permute(x, 0, 2, 3, 1), l), 0, 3, 1, 2)
	}
	if l.headLogits != nil {
		scores = mixHeads(scores, l.headLogits)
	}
	scale := float32(1 / math.Sqrt(float64(D*d.scaleFactor())))
	probs := g.Softmax(scores, backend.SoftmaxOptions{Scale: scale, KeyMask: sh.keyMask})
	if sh.keep != nil {
		probs = g.Add(g.Mul(probs, sh.keep), sh.uniform)
	}
	if l.headWeights != nil {
		probs = mixHeads(probs, l.headWeights)
	}
	return mergeHeads(g, g.MatMul(probs, v, backend.MatMulOptions{}))
}

// convLayer is v2's ConvLayer after the first layer: the Conv1d (padding
// (kernel − 1)/2) of the embeddings emb [B, T, hidden], zero on padding,
// conv_act, added to the layer's output x, LayerNorm, times the mask
// (maskFull [B, T, hidden], nil when nothing is padded). The convolution
// is one product per kernel tap: the embeddings shifted by the tap times
// the weight's [out, in] slice at it.
func (m *deberta) convLayer(g *nn.Graph, emb, x, maskFull *nn.Value) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	c, d := m.cfg, m.d
	act, err := activation(d.ConvAct)
	if err != nil {
		return g.Fail("deberta conv", fmt.Errorf("conv_act: %w", err))
	}
	s := emb.Shape()
	B, T, H := s[0], s[1], s[2]
	k, pad := d.ConvKernel, (d.ConvKernel-1)/2
	padded := emb
	if pad > 0 {
		zeros := g.Constant(floats(g, make([]float32, B*pad*H), B, pad, H))
		padded = g.Concat(1, zeros, emb, zeros)
	}
	w := g.Param(m.conv.params["weight"])
	var out *nn.Value
	for tap := 0; tap < k; tap++ {
		wt := g.Reshape(g.Narrow(w, 2, tap, 1), c.Hidden, c.Hidden)
		y := g.MatMul(g.Narrow(padded, 1, tap, T), wt, backend.MatMulOptions{TransB: true})
		if out == nil {
			out = y
		} else {
			out = g.Add(out, y)
		}
	}
	out = g.Add(out, g.Param(m.conv.params["bias"]))
	if maskFull != nil {
		out = g.Mul(out, maskFull)
	}
	y := g.Norm(g.Add(x, g.Act(act, out)), m.convNorm)
	if maskFull != nil {
		y = g.Mul(y, maskFull)
	}
	return y
}

// paramModule is a module holding parameters of its own beside its
// children's, as v1's DisentangledSelfAttention holds q_bias and v_bias,
// so that PEFT-style freezing, counting and modules_to_save see them.
type paramModule struct {
	class  string
	params map[string]*nn.Param
}

// Type returns the torch class name.
func (m *paramModule) Type() string { return m.class }

// Params returns the module's own parameters by local name.
func (m *paramModule) Params() map[string]*nn.Param { return m.params }

// SetParam replaces parameter local by p, which must have the current
// parameter's shape (a modules_to_save copy).
func (m *paramModule) SetParam(local string, p *nn.Param) error {
	old, ok := m.params[local]
	switch {
	case !ok:
		return fmt.Errorf("%s has no parameter %q", m.class, local)
	case p == nil:
		return fmt.Errorf("%s.%s: nil parameter", m.class, local)
	case old.T != nil && p.T != nil && !slices.Equal(old.T.Shape(), p.T.Shape()):
		return fmt.Errorf("%s.%s: shape %v, want %v", m.class, local, p.T.Shape(), old.T.Shape())
	}
	m.params[local] = p
	return nil
}
