package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// falcon is FalconForCausalLM: rotary embeddings, a fused
// query_key_value in one of three layouts (the new decoder architecture's
// groups of query heads followed by their key and value head, multi-query's
// query heads then one key and one value, or each head's q, k, v), and
// attention and MLP in parallel (one LayerNorm, or ln_attn and ln_mlp) or,
// without parallel_attn, one after the other.
type falcon struct {
	cfg     *Config
	embed   *nn.Embedding
	layers  []falconLayer
	norm    *nn.Norm
	lmHead  *nn.Linear // lm_head, or score (FalconForSequenceClassification)
	invFreq []float32
}

type falconLayer struct {
	lnAttn, lnMLP *nn.Norm // lnMLP nil: the MLP reads lnAttn's output (or, sequential, postNorm's)
	postNorm      *nn.Norm // sequential layers only
	qkv, dense    *nn.Linear
	up, down      *nn.Linear
}

func buildFalcon(c *Config, t *treeBuilder) *falcon {
	m := &falcon{cfg: c, invFreq: ropeInvFreq(c.Rope, c.HeadDim)}
	t.container("", c.Architecture)
	t.container("transformer", "FalconModel")
	m.embed = t.embedding("transformer.word_embeddings", c.VocabSize, c.Hidden)
	t.container("transformer.h", "ModuleList")
	qkvOut := (c.Heads + 2*c.KVHeads) * c.HeadDim
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var l falconLayer
		t.container(p, "FalconDecoderLayer")
		t.container(p+".self_attention", "FalconAttention")
		l.qkv = t.linear(p+".self_attention.query_key_value", c.Hidden, qkvOut, c.AttentionBias, false)
		l.dense = t.linear(p+".self_attention.dense", c.Heads*c.HeadDim, c.Hidden, c.AttentionBias, false)
		t.dropout(p + ".self_attention.attention_dropout")
		t.container(p+".mlp", "FalconMLP")
		l.up = t.linear(p+".mlp.dense_h_to_4h", c.Hidden, c.Intermediate, c.AttentionBias, false)
		t.activation(p+".mlp.act", c.Act)
		l.down = t.linear(p+".mlp.dense_4h_to_h", c.Intermediate, c.Hidden, c.AttentionBias, false)
		switch {
		case !c.ParallelResidual:
			l.postNorm = t.layerNorm(p+".post_attention_layernorm", c.Hidden, c.NormEps)
			l.lnAttn = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		case c.ParallelNorms == 2:
			l.lnAttn = t.layerNorm(p+".ln_attn", c.Hidden, c.NormEps)
			l.lnMLP = t.layerNorm(p+".ln_mlp", c.Hidden, c.NormEps)
		default:
			l.lnAttn = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		}
		m.layers = append(m.layers, l)
	}
	m.norm = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	t.container("transformer.rotary_emb", "FalconRotaryEmbedding")
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.embed.Weight)
		}
		return t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	})
	return m
}

func (m *falcon) outputLayer() string { return headName(m.cfg, "lm_head") }

// split returns q [B, H, T, D] and k, v [B, Hkv, T, D] from
// query_key_value's output [B, T, (H + 2·Hkv)·D], as Falcon's _split_heads
// reads each layout.
func (m *falcon) split(g *nn.Graph, y *nn.Value) (q, k, v *nn.Value) {
	c := m.cfg
	D, H, Hkv := c.HeadDim, c.Heads, c.KVHeads
	s := y.Shape()
	B, T := s[0], s[1]
	switch {
	case c.NewDecoderArch:
		// [B, T, Hkv, H/Hkv + 2, D]: each group's query heads, then its
		// key and value.
		per := H / Hkv
		grp := g.Reshape(y, B*T, Hkv, per+2, D)
		q = g.Reshape(g.Narrow(grp, 2, 0, per), B, T, H*D)
		k = g.Reshape(g.Narrow(grp, 2, per, 1), B, T, Hkv*D)
		v = g.Reshape(g.Narrow(grp, 2, per+1, 1), B, T, Hkv*D)
		return splitHeads(g, q, H, D), splitHeads(g, k, Hkv, D), splitHeads(g, v, Hkv, D)
	case Hkv == 1: // multi_query: [q heads, k, v]
		return splitHeads(g, g.Narrow(y, 2, 0, H*D), H, D), splitHeads(g, g.Narrow(y, 2, H*D, D), 1, D),
			splitHeads(g, g.Narrow(y, 2, (H+1)*D, D), 1, D)
	}
	per := g.Reshape(y, B, T, H, 3*D) // [B, T, H, 3, D]
	head := func(j int) *nn.Value { return g.Permute(g.Narrow(per, 3, j*D, D), 0, 2, 1, 3) }
	return head(0), head(1), head(2)
}

func (m *falcon) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("falcon forward", err)
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for i, l := range m.layers {
		h := g.Norm(x, l.lnAttn)
		q, k, v := m.split(g, g.Linear(h, l.qkv))
		q, k = g.Rope(q, invFreq, pos), g.Rope(k, invFreq, pos)
		k, v = cached(g, cache, i, k, v)
		a := g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: km}), l.dense)
		mlpIn := h
		switch {
		case !c.ParallelResidual:
			x, mlpIn = g.AddNorm(a, x, l.postNorm)
		case l.lnMLP != nil:
			mlpIn = g.Norm(x, l.lnMLP)
		}
		f := g.Linear(g.Act(act, g.Linear(mlpIn, l.up)), l.down)
		if c.ParallelResidual {
			f = g.Add(f, a)
		}
		x = g.Add(f, x)
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}
