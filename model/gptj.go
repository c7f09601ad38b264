package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gptJ is GPTJForCausalLM: one LayerNorm feeding attention and MLP in
// parallel, bias-free k/v/q/out projections, and rotary embeddings of the
// first rotary_dim features in GPT-J's interleaved layout (feature 2i
// pairs with 2i+1), and a biased lm_head.
type gptJ struct {
	cfg     *Config
	embed   *nn.Embedding
	layers  []gptJLayer
	norm    *nn.Norm
	lmHead  *nn.Linear // lm_head, or score (GPTJForSequenceClassification)
	invFreq []float32
}

type gptJLayer struct {
	ln           *nn.Norm
	q, k, v, out *nn.Linear
	fcIn, fcOut  *nn.Linear
}

func buildGPTJ(c *Config, t *treeBuilder) *gptJ {
	m := &gptJ{cfg: c, invFreq: ropeInvFreq(RopeConfig{Theta: 10000, Type: "default", Factor: 1}, c.RotaryDim)}
	t.container("", c.Architecture)
	t.container("transformer", "GPTJModel")
	m.embed = t.embedding("transformer.wte", c.VocabSize, c.Hidden)
	t.dropout("transformer.drop")
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var l gptJLayer
		t.container(p, "GPTJBlock")
		l.ln = t.layerNorm(p+".ln_1", c.Hidden, c.NormEps)
		t.container(p+".attn", "GPTJAttention")
		t.dropout(p + ".attn.attn_dropout")
		t.dropout(p + ".attn.resid_dropout")
		l.k = t.linear(p+".attn.k_proj", c.Hidden, c.Hidden, false, false)
		l.v = t.linear(p+".attn.v_proj", c.Hidden, c.Hidden, false, false)
		l.q = t.linear(p+".attn.q_proj", c.Hidden, c.Hidden, false, false)
		l.out = t.linear(p+".attn.out_proj", c.Hidden, c.Hidden, false, false)
		t.container(p+".mlp", "GPTJMLP")
		l.fcIn = t.linear(p+".mlp.fc_in", c.Hidden, c.Intermediate, true, false)
		l.fcOut = t.linear(p+".mlp.fc_out", c.Intermediate, c.Hidden, true, false)
		t.activation(p+".mlp.act", c.Act)
		t.dropout(p + ".mlp.dropout")
		m.layers = append(m.layers, l)
	}
	m.norm = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear { return biasedHead(c, t, m.embed) })
	return m
}

func (m *gptJ) outputLayer() string { return headName(m.cfg, "lm_head") }

// interleavedHeads turns a query or key projection [B, T, H·D] into
// [B, H, T, D] with the first R rotary features reordered from GPT-J's
// pairs (2i, 2i+1) to (i, i + R/2), the layout Rope rotates. Queries and
// keys get the same reordering, so their dot products are unchanged.
func interleavedHeads(g *nn.Graph, x *nn.Value, heads, dim, rot int) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	s := x.Shape()
	B, T := s[0], s[1]
	x = g.Reshape(x, B, T, heads, dim)
	r := g.Narrow(x, 3, 0, rot)
	r = g.Reshape(g.Permute(g.Reshape(r, B*T, heads, rot/2, 2), 0, 1, 3, 2), B, T, heads, rot)
	if rot < dim {
		r = g.Concat(3, r, g.Narrow(x, 3, rot, dim-rot))
	}
	return g.Permute(r, 0, 2, 1, 3)
}

func (m *gptJ) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gptj forward", err)
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for i, l := range m.layers {
		h := g.Norm(x, l.ln)
		q := g.Rope(interleavedHeads(g, g.Linear(h, l.q), c.Heads, c.HeadDim, c.RotaryDim), invFreq, pos)
		k := g.Rope(interleavedHeads(g, g.Linear(h, l.k), c.Heads, c.HeadDim, c.RotaryDim), invFreq, pos)
		v := splitHeads(g, g.Linear(h, l.v), c.Heads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		a := g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: km}), l.out)
		f := g.Linear(g.Act(act, g.Linear(h, l.fcIn)), l.fcOut)
		x = g.Add(g.Add(a, f), x)
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}
