package model

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gptNeo is GPTNeoForCausalLM: GPT-2's layout with learned positions,
// separate bias-free k/v/q projections, unscaled attention logits (GPT-Neo
// never divides by √d), and "local" layers that see only the last
// window_size tokens.
type gptNeo struct {
	cfg      *Config
	wte, wpe *nn.Embedding
	blocks   []gptNeoBlock
	lnF      *nn.Norm
	lmHead   *nn.Linear // lm_head, or score (GPTNeoForSequenceClassification)
}

type gptNeoBlock struct {
	ln1, ln2     *nn.Norm
	q, k, v, out *nn.Linear
	fc, proj     *nn.Linear
}

func buildGPTNeo(c *Config, t *treeBuilder) *gptNeo {
	m := &gptNeo{cfg: c}
	t.container("", c.Architecture)
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
		t.container(p+".attn.attention", "GPTNeoSelfAttention")
		t.dropout(p + ".attn.attention.attn_dropout")
		t.dropout(p + ".attn.attention.resid_dropout")
		b.k = t.linear(p+".attn.attention.k_proj", c.Hidden, c.Hidden, false, false)
		b.v = t.linear(p+".attn.attention.v_proj", c.Hidden, c.Hidden, false, false)
		b.q = t.linear(p+".attn.attention.q_proj", c.Hidden, c.Hidden, false, false)
		b.out = t.linear(p+".attn.attention.out_proj", c.Hidden, c.Hidden, true, false)
		b.ln2, b.fc, b.proj = linearMLP(c, t, p, "GPTNeoMLP")
		m.blocks = append(m.blocks, b)
	}
	m.lnF, m.lmHead = transformerHead(c, t, m.wte)
	return m
}

func (m *gptNeo) outputLayer() string { return headName(m.cfg, "lm_head") }

func (m *gptNeo) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_neo forward", err)
	}
	x, km, mask := learnedInputs(g, m.wte, m.wpe, in, cache, c)
	for i, b := range m.blocks {
		h := g.Norm(x, b.ln1)
		q := splitHeads(g, g.Linear(h, b.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, b.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, b.v), c.Heads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		o := backend.SoftmaxOptions{Scale: 1, Causal: true, Window: c.LayerWindow(i), KeyMask: km}
		x, h = g.AddNorm(x, g.Linear(attend(g, q, k, v, o), b.out), b.ln2)
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(h, b.fc)), b.proj))
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.lnF), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}
