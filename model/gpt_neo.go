package model

import (
	"github.com/ia3/ia3/model/nn"
)

// gptNeo is GPTNeoForCausalLM: GPT-2's layout with separate q/k/v
// (bias-free) under attn.attention, unscaled attention scores, layers
// alternating global attention and local attention over the window_size
// most recent tokens, and an lm_head tied to wte.
type gptNeo struct {
	cfg *Config
	gpt2Layout
	// q, k, v are each block's projections (attnProj is out_proj).
	q, k, v []*nn.Linear
}

func buildGPTNeo(c *Config, t *treeBuilder) *gptNeo {
	m := &gptNeo{cfg: c}
	m.gpt2Layout = buildGPT2Layout(c, t, "GPTNeo", false, func(p string, b *gpt2Block) {
		a := p + ".attention"
		t.container(a, "GPTNeoSelfAttention")
		t.dropout(a + ".attn_dropout")
		t.dropout(a + ".resid_dropout")
		m.k = append(m.k, t.linear(a+".k_proj", c.Hidden, c.Hidden, false, false))
		m.v = append(m.v, t.linear(a+".v_proj", c.Hidden, c.Hidden, false, false))
		m.q = append(m.q, t.linear(a+".q_proj", c.Hidden, c.Hidden, false, false))
		b.attnProj = t.linear(a+".out_proj", c.Hidden, c.Hidden, true, false)
	})
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
		q := splitHeads(g, g.Linear(h, m.q[i]), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, m.k[i]), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, m.v[i]), c.Heads, c.HeadDim)
		var bias = local
		if !c.GPT.LocalLayers[i] {
			bias = nil
		}
		// GPT-Neo does not scale the scores by head_dim^-½.
		x = g.Add(x, g.Linear(s.attention(i, q, k, v, 1, bias), b.attnProj))
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(g.Norm(x, b.ln2), b.cFC)), b.mlpProj))
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
