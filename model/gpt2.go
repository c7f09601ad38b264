package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gpt2 is GPT2LMHeadModel: learned positions, pre-LayerNorm blocks with a
// fused c_attn Conv1D, gelu_new MLP and an lm_head tied to wte; or
// GPT2ForSequenceClassification, whose lmHead is the score head.
type gpt2 struct {
	cfg      *Config
	wte, wpe *nn.Embedding
	blocks   []gpt2Block
	lnF      *nn.Norm
	lmHead   *nn.Linear
}

type gpt2Block struct {
	ln1, ln2        *nn.Norm
	cAttn, attnProj *nn.Linear
	cFC, mlpProj    *nn.Linear
}

func buildGPT2(c *Config, t *treeBuilder) *gpt2 {
	m := &gpt2{cfg: c}
	t.container("", c.Architecture)
	t.container("transformer", "GPT2Model")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	m.wpe = t.embedding("transformer.wpe", c.MaxPositions, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gpt2Block
		t.container(p, "GPT2Block")
		b.ln1 = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPT2Attention")
		b.cAttn = t.linear(p+".attn.c_attn", c.Hidden, 3*c.Hidden, true, true)
		b.attnProj = t.linear(p+".attn.c_proj", c.Hidden, c.Hidden, true, true)
		t.dropout(p + ".attn.attn_dropout")
		t.dropout(p + ".attn.resid_dropout")
		b.ln2 = t.layerNorm(p+".ln_2", c.Hidden, c.NormEps)
		t.container(p+".mlp", "GPT2MLP")
		b.cFC = t.linear(p+".mlp.c_fc", c.Hidden, c.Intermediate, true, true)
		b.mlpProj = t.linear(p+".mlp.c_proj", c.Intermediate, c.Hidden, true, true)
		t.activation(p+".mlp.act", c.Act)
		t.dropout(p + ".mlp.dropout")
		m.blocks = append(m.blocks, b)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.wte.Weight)
		}
		return t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	})
	return m
}

func (m *gpt2) outputLayer() string { return headName(m.cfg, "lm_head") }

func (m *gpt2) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt2 forward", err)
	}
	B, T, D := in.Batch, in.Seq, c.Hidden
	past := 0
	if cache != nil {
		past = cache.n
	}
	pos := positions(in, past)
	for i, p := range pos {
		if int(p) >= c.MaxPositions {
			return g.Fail("gpt2 forward", fmt.Errorf("position %d of token %d is past n_positions %d", p, i, c.MaxPositions))
		}
	}
	// Each residual add and the norm after it run as one AddNorm: the
	// embeddings' sum with block 0's ln_1, every block's attention output
	// with its ln_2, and its MLP output with the next block's ln_1 (the
	// last one's with nothing: ln_f follows headTokens).
	wte, wpe := g.Embedding(m.wte, ints(g, in.InputIDs, B*T)), g.Embedding(m.wpe, ints(g, pos, B*T))
	var x, h *nn.Value
	if len(m.blocks) > 0 {
		x, h = g.AddNorm(wte, wpe, m.blocks[0].ln1)
		h = g.Reshape(h, B, T, D)
	} else {
		x = g.Add(wte, wpe)
	}
	x = g.Reshape(x, B, T, D)
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	km := floats(g, keyMask, B, len(keyMask)/B)
	heads, hd := c.Heads, c.HeadDim
	for i, b := range m.blocks {
		qkv := g.Linear(h, b.cAttn)
		q := splitHeads(g, g.Narrow(qkv, 2, 0, D), heads, hd)
		k := splitHeads(g, g.Narrow(qkv, 2, D, D), heads, hd)
		v := splitHeads(g, g.Narrow(qkv, 2, 2*D, D), heads, hd)
		k, v = cached(g, cache, i, k, v)
		scale := 1.0
		if c.ScaleAttnWeights {
			scale /= math.Sqrt(float64(hd))
		}
		if c.ScaleAttnByInverseLayerIdx {
			scale /= float64(i + 1)
		}
		a := attend(g, q, k, v, backend.SoftmaxOptions{Scale: float32(scale), Causal: true, KeyMask: km})
		x, h = g.AddNorm(x, g.Linear(a, b.attnProj), b.ln2)
		f := g.Linear(g.Act(act, g.Linear(h, b.cFC)), b.mlpProj)
		if i+1 < len(m.blocks) {
			x, h = g.AddNorm(x, f, m.blocks[i+1].ln1)
		} else {
			x = g.Add(x, f)
		}
	}
	x = g.Norm(headTokens(g, x, in, c, D), m.lnF)
	logits := g.Linear(x, m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, T)
	}
	return logits
}
