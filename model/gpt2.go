package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gpt2 is GPT2LMHeadModel: learned positions, pre-LayerNorm blocks with a
// fused c_attn Conv1D, gelu_new MLP and an lm_head tied to wte.
type gpt2 struct {
	cfg *Config
	gpt2Layout
}

// gpt2Layout is the module tree GPT-2 shares with GPT-BigCode and GPT-Neo:
// transformer.wte and wpe, blocks of ln_1, attn, ln_2 and an mlp of c_fc,
// c_proj, act and dropout, transformer.ln_f and lm_head (tied to wte when
// the config says so).
type gpt2Layout struct {
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

// buildGPT2Layout adds the layout's modules with class names prefixed by
// cls (GPT2Block, GPTNeoBlock…); attn adds a block's attention modules
// under the block path p (…attn) and fills b's attention fields. The MLP
// layers are Conv1D when conv1d is set (GPT-2), torch Linear otherwise.
func buildGPT2Layout(c *Config, t *treeBuilder, cls string, conv1d bool, attn func(p string, b *gpt2Block)) gpt2Layout {
	var m gpt2Layout
	t.container("", c.Architecture)
	t.container("transformer", cls+"Model")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	m.wpe = t.embedding("transformer.wpe", c.MaxPositions, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gpt2Block
		t.container(p, cls+"Block")
		b.ln1 = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", cls+"Attention")
		attn(p+".attn", &b)
		b.ln2 = t.layerNorm(p+".ln_2", c.Hidden, c.NormEps)
		t.container(p+".mlp", cls+"MLP")
		b.cFC = t.linear(p+".mlp.c_fc", c.Hidden, c.Intermediate, true, conv1d)
		b.mlpProj = t.linear(p+".mlp.c_proj", c.Intermediate, c.Hidden, true, conv1d)
		t.activation(p+".mlp.act", c.Act)
		t.dropout(p + ".mlp.dropout")
		m.blocks = append(m.blocks, b)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = outputHead(c, t, c.Hidden, m.wte)
	return m
}

// fusedAttention returns the attention builder of GPT-2 and GPT-BigCode: a
// fused c_attn of qkvOut outputs, c_proj and two dropouts.
func fusedAttention(c *Config, t *treeBuilder, qkvOut int, conv1d bool) func(p string, b *gpt2Block) {
	return func(p string, b *gpt2Block) {
		b.cAttn = t.linear(p+".c_attn", c.Hidden, qkvOut, true, conv1d)
		b.attnProj = t.linear(p+".c_proj", c.Hidden, c.Hidden, true, conv1d)
		t.dropout(p + ".attn_dropout")
		t.dropout(p + ".resid_dropout")
	}
}

func buildGPT2(c *Config, t *treeBuilder) *gpt2 {
	return &gpt2{cfg: c, gpt2Layout: buildGPT2Layout(c, t, "GPT2", true, fusedAttention(c, t, 3*c.Hidden, true))}
}

func (m *gpt2) outputLayer() string { return "lm_head" }

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
	x := g.Add(g.Embedding(m.wte, ints(g, in.InputIDs, B*T)), g.Embedding(m.wpe, ints(g, pos, B*T)))
	x = g.Reshape(x, B, T, D)
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	km := floats(g, keyMask, B, len(keyMask)/B)
	heads, hd := c.Heads, c.HeadDim
	for i, b := range m.blocks {
		h := g.Norm(x, b.ln1)
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
		x = g.Add(x, g.Linear(a, b.attnProj))
		h = g.Linear(g.Act(act, g.Linear(g.Norm(x, b.ln2), b.cFC)), b.mlpProj)
		x = g.Add(x, h)
	}
	x = g.Norm(x, m.lnF)
	logits := g.Linear(x, m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, T)
	}
	return logits
}
