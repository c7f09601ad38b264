package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/nn"
)

// bigCode is GPTBigCodeForCausalLM (SantaCoder, StarCoder): GPT-2's
// layout with torch Linear layers and multi-query attention, a fused
// c_attn holding all queries then one key and one value head (per head
// [q, k, v] without multi_query), and an lm_head tied to wte.
type bigCode struct {
	cfg      *Config
	wte, wpe *nn.Embedding
	blocks   []gpt2Block
	lnF      *nn.Norm
	lmHead   *nn.Linear
}

func buildBigCode(c *Config, t *treeBuilder) *bigCode {
	m := &bigCode{cfg: c}
	t.container("", "GPTBigCodeForCausalLM")
	t.container("transformer", "GPTBigCodeModel")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	m.wpe = t.embedding("transformer.wpe", c.MaxPositions, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gpt2Block
		t.container(p, "GPTBigCodeBlock")
		b.ln1 = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPTBigCodeAttention")
		b.cAttn = t.linear(p+".attn.c_attn", c.Hidden, c.Hidden+2*c.KVHeads*c.HeadDim, true, false)
		b.attnProj = t.linear(p+".attn.c_proj", c.Hidden, c.Hidden, true, false)
		t.dropout(p + ".attn.attn_dropout")
		t.dropout(p + ".attn.resid_dropout")
		b.ln2 = t.layerNorm(p+".ln_2", c.Hidden, c.NormEps)
		t.container(p+".mlp", "GPTBigCodeMLP")
		b.cFC = t.linear(p+".mlp.c_fc", c.Hidden, c.Intermediate, true, false)
		b.mlpProj = t.linear(p+".mlp.c_proj", c.Intermediate, c.Hidden, true, false)
		t.activation(p+".mlp.act", c.Act)
		t.dropout(p + ".mlp.dropout")
		m.blocks = append(m.blocks, b)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.wte.Weight)
	} else {
		m.lmHead = t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m
}

func (m *bigCode) outputLayer() string { return "lm_head" }

func (m *bigCode) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_bigcode forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := g.Add(s.embed(m.wte, c.Hidden), s.learnedPositions(m.wpe, positions(in, s.past), 0, c.MaxPositions, c.Hidden))
	scale := float32(1)
	if c.ScaleAttnWeights {
		scale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	}
	for i, b := range m.blocks {
		qkv := g.Linear(g.Norm(x, b.ln1), b.cAttn)
		var q, k, v *nn.Value
		if c.GPT.MultiQuery {
			q, k, v = headsStacked(g, qkv, c.Heads, 1, c.HeadDim)
		} else {
			q, k, v = headsInterleaved(g, qkv, c.Heads, c.HeadDim)
		}
		x = g.Add(x, g.Linear(s.attention(i, q, k, v, scale, nil), b.attnProj))
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(g.Norm(x, b.ln2), b.cFC)), b.mlpProj))
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
