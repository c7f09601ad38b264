package model

import (
	"fmt"

	"github.com/ia3/ia3/model/nn"
)

// gptNeo is GPTNeoForCausalLM: GPT-2's layout with separate q/k/v
// (bias-free) under attn.attention, unscaled attention scores, layers
// alternating global attention and local attention over the window_size
// most recent tokens, and an lm_head tied to wte.
type gptNeo struct {
	cfg      *Config
	wte, wpe *nn.Embedding
	blocks   []gptNeoBlock
	lnF      *nn.Norm
	lmHead   *nn.Linear
}

type gptNeoBlock struct {
	ln1, ln2   *nn.Norm
	q, k, v, o *nn.Linear
	fc, proj   *nn.Linear
}

func buildGPTNeo(c *Config, t *treeBuilder) *gptNeo {
	m := &gptNeo{cfg: c}
	t.container("", "GPTNeoForCausalLM")
	t.container("transformer", "GPTNeoModel")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	m.wpe = t.embedding("transformer.wpe", c.MaxPositions, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gptNeoBlock
		t.container(p, "GPTNeoBlock")
		b.ln1 = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPTNeoAttention")
		a := p + ".attn.attention"
		t.container(a, "GPTNeoSelfAttention")
		t.dropout(a + ".attn_dropout")
		t.dropout(a + ".resid_dropout")
		b.k = t.linear(a+".k_proj", c.Hidden, c.Hidden, false, false)
		b.v = t.linear(a+".v_proj", c.Hidden, c.Hidden, false, false)
		b.q = t.linear(a+".q_proj", c.Hidden, c.Hidden, false, false)
		b.o = t.linear(a+".out_proj", c.Hidden, c.Hidden, true, false)
		b.ln2 = t.layerNorm(p+".ln_2", c.Hidden, c.NormEps)
		t.container(p+".mlp", "GPTNeoMLP")
		b.fc = t.linear(p+".mlp.c_fc", c.Hidden, c.Intermediate, true, false)
		b.proj = t.linear(p+".mlp.c_proj", c.Intermediate, c.Hidden, true, false)
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

func (m *gptNeo) outputLayer() string { return "lm_head" }

func (m *gptNeo) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_neo forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := g.Add(s.embed(m.wte, c.Hidden), s.learnedPositions(m.wpe, positions(in, s.past), 0, c.MaxPositions, c.Hidden))
	var local = s.localMask(c.Heads, c.GPT.WindowSize)
	for i, b := range m.blocks {
		h := g.Norm(x, b.ln1)
		q := splitHeads(g, g.Linear(h, b.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, b.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, b.v), c.Heads, c.HeadDim)
		var bias = local
		if !c.GPT.LocalLayers[i] {
			bias = nil
		}
		// GPT-Neo does not scale the scores by head_dim^-½.
		x = g.Add(x, g.Linear(s.attention(i, q, k, v, 1, bias), b.o))
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(g.Norm(x, b.ln2), b.fc)), b.proj))
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
