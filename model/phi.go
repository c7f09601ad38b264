package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// phi is PhiForCausalLM (Phi-1, Phi-1.5, Phi-2): LayerNorm, partial rotary
// embeddings, biased q/k/v/dense projections, optional per-head q/k
// LayerNorms, and attention and MLP computed in parallel from the same
// normed input and added to the residual together.
type phi struct {
	cfg     *Config
	embed   *nn.Embedding
	layers  []phiLayer
	norm    *nn.Norm
	lmHead  *nn.Linear // lm_head, or score (PhiForSequenceClassification)
	invFreq []float32
}

type phiLayer struct {
	q, k, v, dense *nn.Linear
	qNorm, kNorm   *nn.Norm
	fc1, fc2       *nn.Linear
	inNorm         *nn.Norm
}

func buildPhi(c *Config, t *treeBuilder) *phi {
	m := &phi{cfg: c, invFreq: ropeInvFreq(c.Rope, c.RotaryDim)}
	t.container("", c.Architecture)
	t.container("model", "PhiModel")
	m.embed = t.embedding("model.embed_tokens", c.VocabSize, c.Hidden)
	t.container("model.layers", "ModuleList")
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d", i)
		var l phiLayer
		t.container(p, "PhiDecoderLayer")
		t.container(p+".self_attn", "PhiAttention")
		l.q = t.linear(p+".self_attn.q_proj", c.Hidden, qDim, true, false)
		l.k = t.linear(p+".self_attn.k_proj", c.Hidden, kvDim, true, false)
		l.v = t.linear(p+".self_attn.v_proj", c.Hidden, kvDim, true, false)
		l.dense = t.linear(p+".self_attn.dense", qDim, c.Hidden, true, false)
		if c.QKNorm {
			l.qNorm = t.layerNorm(p+".self_attn.q_layernorm", c.HeadDim, c.NormEps)
			l.kNorm = t.layerNorm(p+".self_attn.k_layernorm", c.HeadDim, c.NormEps)
		}
		t.container(p+".mlp", "PhiMLP")
		t.activation(p+".mlp.activation_fn", c.Act)
		l.fc1 = t.linear(p+".mlp.fc1", c.Hidden, c.Intermediate, true, false)
		l.fc2 = t.linear(p+".mlp.fc2", c.Intermediate, c.Hidden, true, false)
		l.inNorm = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		t.dropout(p + ".resid_dropout")
		m.layers = append(m.layers, l)
	}
	t.container("model.rotary_emb", "PhiRotaryEmbedding")
	t.dropout("model.embed_dropout")
	m.norm = t.layerNorm("model.final_layernorm", c.Hidden, c.NormEps)
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear { return biasedHead(c, t, m.embed) })
	return m
}

// biasedHead adds lm_head, a Linear with a bias (Phi, GPT-J), sharing the
// embedding's weight when the config ties them; the bias stays its own.
func biasedHead(c *Config, t *treeBuilder, embed *nn.Embedding) *nn.Linear {
	if !c.TieWordEmbeddings {
		return t.linear("lm_head", c.Hidden, c.VocabSize, true, false)
	}
	l := t.tiedLinear("lm_head", c.Hidden, c.VocabSize, embed.Weight)
	l.Bias = t.param("lm_head.bias", c.VocabSize)
	return l
}

func (m *phi) outputLayer() string { return headName(m.cfg, "lm_head") }

func (m *phi) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("phi forward", err)
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for i, l := range m.layers {
		h := g.Norm(x, l.inNorm)
		q := splitHeads(g, g.Linear(h, l.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, l.k), c.KVHeads, c.HeadDim)
		if c.QKNorm {
			q, k = g.Norm(q, l.qNorm), g.Norm(k, l.kNorm)
		}
		q, k = g.Rope(q, invFreq, pos), g.Rope(k, invFreq, pos)
		v := splitHeads(g, g.Linear(h, l.v), c.KVHeads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		o := backend.SoftmaxOptions{Scale: scale, Causal: true, Window: c.LayerWindow(i), KeyMask: km}
		a := g.Linear(attend(g, q, k, v, o), l.dense)
		f := g.Linear(g.Act(act, g.Linear(h, l.fc1)), l.fc2)
		x = g.Add(g.Add(a, f), x)
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}
