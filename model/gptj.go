package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/nn"
)

// gptJ is GPTJForCausalLM: one LayerNorm per block feeding attention and
// MLP in parallel (x + attn(ln x) + mlp(ln x)), bias-free separate q/k/v,
// rotary positions on the first rotary_dim features of each head rotating
// interleaved pairs (rotate_every_two), and an untied lm_head with a bias.
type gptJ struct {
	cfg    *Config
	wte    *nn.Embedding
	blocks []gptJBlock
	lnF    *nn.Norm
	lmHead *nn.Linear
}

type gptJBlock struct {
	ln          *nn.Norm
	q, k, v, o  *nn.Linear
	fcIn, fcOut *nn.Linear
}

func buildGPTJ(c *Config, t *treeBuilder) *gptJ {
	m := &gptJ{cfg: c}
	t.container("", "GPTJForCausalLM")
	t.container("transformer", "GPTJModel")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gptJBlock
		t.container(p, "GPTJBlock")
		b.ln = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPTJAttention")
		t.dropout(p + ".attn.attn_dropout")
		t.dropout(p + ".attn.resid_dropout")
		b.k = t.linear(p+".attn.k_proj", c.Hidden, c.Hidden, false, false)
		b.v = t.linear(p+".attn.v_proj", c.Hidden, c.Hidden, false, false)
		b.q = t.linear(p+".attn.q_proj", c.Hidden, c.Hidden, false, false)
		b.o = t.linear(p+".attn.out_proj", c.Hidden, c.Hidden, false, false)
		t.container(p+".mlp", "GPTJMLP")
		b.fcIn = t.linear(p+".mlp.fc_in", c.Hidden, c.Intermediate, true, false)
		b.fcOut = t.linear(p+".mlp.fc_out", c.Intermediate, c.Hidden, true, false)
		t.activation(p+".mlp.act", c.Act)
		t.dropout(p + ".mlp.dropout")
		m.blocks = append(m.blocks, b)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = lmHead(c, t, c.Hidden, m.wte, true)
	return m
}

func (m *gptJ) outputLayer() string { return "lm_head" }

func (m *gptJ) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gptj forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := s.embed(m.wte, c.Hidden)
	rot := c.GPT.RotaryDim
	invFreq, pos := s.rope(c.Rope, rot)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	rotate := func(y *nn.Value) *nn.Value { return g.Rope(everyTwoToHalf(g, y, rot), invFreq, pos) }
	for i, b := range m.blocks {
		h := g.Norm(x, b.ln)
		q := rotate(splitHeads(g, g.Linear(h, b.q), c.Heads, c.HeadDim))
		k := rotate(splitHeads(g, g.Linear(h, b.k), c.Heads, c.HeadDim))
		v := splitHeads(g, g.Linear(h, b.v), c.Heads, c.HeadDim)
		a := g.Linear(s.attention(i, q, k, v, scale, nil), b.o)
		mlp := g.Linear(g.Act(act, g.Linear(h, b.fcIn)), b.fcOut)
		x = g.Add(g.Add(a, mlp), x)
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
