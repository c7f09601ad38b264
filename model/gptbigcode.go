package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gptBigCode is GPTBigCodeForCausalLM (SantaCoder, StarCoder): GPT-2's
// layout with torch Linears, and a fused c_attn holding, with multi_query,
// all query heads then one shared key and one value head, or, without,
// each head's query, key and value side by side.
type gptBigCode struct {
	cfg      *Config
	wte, wpe *nn.Embedding
	blocks   []gptBigCodeBlock
	lnF      *nn.Norm
	lmHead   *nn.Linear // lm_head, or score (GPTBigCodeForSequenceClassification)
}

type gptBigCodeBlock struct {
	ln1, ln2    *nn.Norm
	cAttn, proj *nn.Linear
	fc, mlpProj *nn.Linear
}

func buildGPTBigCode(c *Config, t *treeBuilder) *gptBigCode {
	m := &gptBigCode{cfg: c}
	t.container("", c.Architecture)
	t.container("transformer", "GPTBigCodeModel")
	m.wte = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	m.wpe = t.embedding("transformer.wpe", c.MaxPositions, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	kvDim := c.KVHeads * c.HeadDim
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b gptBigCodeBlock
		t.container(p, "GPTBigCodeBlock")
		b.ln1 = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPTBigCodeAttention")
		b.cAttn = t.linear(p+".attn.c_attn", c.Hidden, c.Hidden+2*kvDim, true, false)
		b.proj = t.linear(p+".attn.c_proj", c.Hidden, c.Hidden, true, false)
		t.dropout(p + ".attn.attn_dropout")
		t.dropout(p + ".attn.resid_dropout")
		b.ln2, b.fc, b.mlpProj = linearMLP(c, t, p, "GPTBigCodeMLP")
		m.blocks = append(m.blocks, b)
	}
	m.lnF, m.lmHead = transformerHead(c, t, m.wte)
	return m
}

// linearMLP adds block p's ln_2 and GPT-2-style MLP (c_fc, c_proj, act,
// dropout) as torch Linears with biases (GPT-Neo, GPTBigCode).
func linearMLP(c *Config, t *treeBuilder, p, class string) (ln2 *nn.Norm, fc, proj *nn.Linear) {
	ln2 = t.layerNorm(p+".ln_2", c.Hidden, c.NormEps)
	t.container(p+".mlp", class)
	fc = t.linear(p+".mlp.c_fc", c.Hidden, c.Intermediate, true, false)
	proj = t.linear(p+".mlp.c_proj", c.Intermediate, c.Hidden, true, false)
	t.activation(p+".mlp.act", c.Act)
	t.dropout(p + ".mlp.dropout")
	return ln2, fc, proj
}

// transformerHead adds transformer.ln_f and a bias-free lm_head, tied to
// the token embedding when the config says so (or a classifier's score).
func transformerHead(c *Config, t *treeBuilder, wte *nn.Embedding) (*nn.Norm, *nn.Linear) {
	ln := t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	return ln, decoderHead(c, t, c.Hidden, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("lm_head", c.Hidden, c.VocabSize, wte.Weight)
		}
		return t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	})
}

func (m *gptBigCode) outputLayer() string { return headName(m.cfg, "lm_head") }

// qkv splits c_attn's output [B, T, H·D + 2·Hkv·D] into q [B, H, T, D] and
// k, v [B, Hkv, T, D].
func (m *gptBigCode) qkv(g *nn.Graph, y *nn.Value) (q, k, v *nn.Value) {
	c := m.cfg
	D := c.HeadDim
	if c.KVHeads == 1 { // multi_query: [q heads…, k, v]
		return splitHeads(g, g.Narrow(y, 2, 0, c.Hidden), c.Heads, D),
			splitHeads(g, g.Narrow(y, 2, c.Hidden, D), 1, D),
			splitHeads(g, g.Narrow(y, 2, c.Hidden+D, D), 1, D)
	}
	s := y.Shape()
	per := g.Reshape(y, s[0], s[1], c.Heads, 3*D) // per head: q, k, v
	head := func(j int) *nn.Value { return g.Permute(g.Narrow(per, 3, j*D, D), 0, 2, 1, 3) }
	return head(0), head(1), head(2)
}

func (m *gptBigCode) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_bigcode forward", err)
	}
	x, km, mask := learnedInputs(g, m.wte, m.wpe, in, cache, c)
	scale := float32(1)
	if c.ScaleAttnWeights {
		scale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	}
	for i, b := range m.blocks {
		q, k, v := m.qkv(g, g.Linear(g.Norm(x, b.ln1), b.cAttn))
		k, v = cached(g, cache, i, k, v)
		a := attend(g, q, k, v, backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: km})
		var h *nn.Value
		x, h = g.AddNorm(x, g.Linear(a, b.proj), b.ln2)
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(h, b.fc)), b.mlpProj))
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.lnF), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}

// learnedInputs starts a forward pass with learned absolute positions
// (GPT-Neo, GPTBigCode): token plus position embeddings [B, T, hidden],
// positions continuing the cache, the key mask over cached and new keys,
// and the new tokens' mask, which the cache commits at the end.
func learnedInputs(g *nn.Graph, wte, wpe *nn.Embedding, in *Inputs, cache *KVCache, c *Config) (x *nn.Value, km backend.Tensor, mask []float32) {
	B, T := in.Batch, in.Seq
	past := 0
	if cache != nil {
		past = cache.n
	}
	pos := positions(in, past)
	for i, p := range pos {
		if p < 0 || int(p) >= c.MaxPositions {
			g.Fail(c.ModelType+" forward", fmt.Errorf("position %d of token %d is outside [0, %d)", p, i, c.MaxPositions))
			return nil, nil, nil
		}
	}
	x = g.Add(g.Embedding(wte, ints(g, in.InputIDs, B*T)), g.Embedding(wpe, ints(g, pos, B*T)))
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	return g.Reshape(x, B, T, c.Hidden), floats(g, keyMask, B, len(keyMask)/B), mask
}
