package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/nn"
)

// falcon is FalconForCausalLM on its rotary path (alibi false): a fused
// query_key_value laid out per the attention variant (multi-query: all
// queries, one key, one value; new decoder architecture: per key/value
// group its queries, key and value; otherwise per head [q, k, v]),
// parallel attention and MLP on one residual (parallel_attn or the new
// architecture, with ln_attn and ln_mlp when num_ln_in_parallel_attn is
// 2) and an lm_head tied to the word embeddings by default.
type falcon struct {
	cfg    *Config
	embed  *nn.Embedding
	layers []falconLayer
	lnF    *nn.Norm
	lmHead *nn.Linear
}

type falconLayer struct {
	qkv, dense *nn.Linear
	up, down   *nn.Linear
	// lnAttn normalises the attention input (input_layernorm or ln_attn);
	// lnMLP the MLP input (post_attention_layernorm or ln_mlp), nil when
	// the MLP reads lnAttn's output.
	lnAttn, lnMLP *nn.Norm
}

// qkvWidth is the output size of Falcon's query_key_value.
func falconQKVWidth(c *Config) int {
	switch {
	case c.Falcon.NewDecoderArch:
		return (2*c.KVHeads + c.Heads) * c.HeadDim
	case c.Falcon.MultiQuery:
		return c.Hidden + 2*c.HeadDim
	}
	return 3 * c.Hidden
}

func buildFalcon(c *Config, t *treeBuilder) *falcon {
	m := &falcon{cfg: c}
	t.container("", "FalconForCausalLM")
	t.container("transformer", "FalconModel")
	m.embed = t.embedding("transformer.word_embeddings", c.VocabSize, c.Hidden)
	t.container("transformer.h", "ModuleList")
	b := c.Falcon.Bias
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var l falconLayer
		t.container(p, "FalconDecoderLayer")
		t.container(p+".self_attention", "FalconAttention")
		l.qkv = t.linear(p+".self_attention.query_key_value", c.Hidden, falconQKVWidth(c), b, false)
		l.dense = t.linear(p+".self_attention.dense", c.Hidden, c.Hidden, b, false)
		t.dropout(p + ".self_attention.attention_dropout")
		t.container(p+".mlp", "FalconMLP")
		l.up = t.linear(p+".mlp.dense_h_to_4h", c.Hidden, c.Intermediate, b, false)
		t.activation(p+".mlp.act", c.Act)
		l.down = t.linear(p+".mlp.dense_4h_to_h", c.Intermediate, c.Hidden, b, false)
		if c.Falcon.NewDecoderArch && c.Falcon.NumLNInParallel == 2 {
			l.lnAttn = t.layerNorm(p+".ln_attn", c.Hidden, c.NormEps)
			l.lnMLP = t.layerNorm(p+".ln_mlp", c.Hidden, c.NormEps)
		} else {
			l.lnAttn = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
			if !c.Falcon.ParallelResidual && !c.Falcon.NewDecoderArch {
				l.lnMLP = t.layerNorm(p+".post_attention_layernorm", c.Hidden, c.NormEps)
			}
		}
		m.layers = append(m.layers, l)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	t.container("transformer.rotary_emb", "FalconRotaryEmbedding")
	if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.embed.Weight)
	} else {
		m.lmHead = t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m
}

func (m *falcon) outputLayer() string { return "lm_head" }

// split cuts the fused projection into q [B, H, T, D] and k, v
// [B, Hkv, T, D] as FalconAttention._split_heads lays it out.
func (m *falcon) split(g *nn.Graph, qkv *nn.Value) (q, k, v *nn.Value) {
	c := m.cfg
	switch {
	case c.Falcon.NewDecoderArch:
		return headsGrouped(g, qkv, c.Heads, c.KVHeads, c.HeadDim)
	case c.Falcon.MultiQuery:
		return headsStacked(g, qkv, c.Heads, 1, c.HeadDim)
	}
	return headsInterleaved(g, qkv, c.Heads, c.HeadDim)
}

func (m *falcon) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("falcon forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := s.embed(m.embed, c.Hidden)
	invFreq, pos := s.rope(c.Rope, c.HeadDim)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	parallel := c.Falcon.NewDecoderArch || c.Falcon.ParallelResidual
	for i, l := range m.layers {
		h := g.Norm(x, l.lnAttn)
		q, k, v := m.split(g, g.Linear(h, l.qkv))
		q, k = g.Rope(q, invFreq, pos), g.Rope(k, invFreq, pos)
		a := g.Linear(s.attention(i, q, k, v, scale), l.dense)
		mlpIn := h
		if !parallel {
			x = g.Add(x, a)
			mlpIn = g.Norm(x, l.lnMLP)
		} else if l.lnMLP != nil {
			mlpIn = g.Norm(x, l.lnMLP)
		}
		mlp := g.Linear(g.Act(act, g.Linear(mlpIn, l.up)), l.down)
		if parallel {
			mlp = g.Add(mlp, a)
		}
		x = g.Add(x, mlp)
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
