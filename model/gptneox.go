package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// gptNeoX is GPTNeoXForCausalLM (Pythia, GPT-NeoX-20B): LayerNorm, a fused
// query_key_value projection whose output holds each head's query, key
// and value side by side, partial rotary embeddings, and by default the
// parallel residual x + attn(ln1(x)) + mlp(ln2(x)).
type gptNeoX struct {
	cfg     *Config
	embed   *nn.Embedding
	layers  []gptNeoXLayer
	norm    *nn.Norm
	lmHead  *nn.Linear // embed_out, or score (GPTNeoXForSequenceClassification)
	invFreq []float32
}

type gptNeoXLayer struct {
	ln1, ln2   *nn.Norm
	qkv, dense *nn.Linear
	up, down   *nn.Linear
}

func buildGPTNeoX(c *Config, t *treeBuilder) *gptNeoX {
	m := &gptNeoX{cfg: c, invFreq: ropeInvFreq(c.Rope, c.RotaryDim)}
	t.container("", c.Architecture)
	t.container("gpt_neox", "GPTNeoXModel")
	m.embed = t.embedding("gpt_neox.embed_in", c.VocabSize, c.Hidden)
	t.dropout("gpt_neox.emb_dropout")
	t.container("gpt_neox.layers", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("gpt_neox.layers.%d", i)
		var l gptNeoXLayer
		t.container(p, "GPTNeoXLayer")
		l.ln1 = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		l.ln2 = t.layerNorm(p+".post_attention_layernorm", c.Hidden, c.NormEps)
		t.dropout(p + ".post_attention_dropout")
		t.dropout(p + ".post_mlp_dropout")
		t.container(p+".attention", "GPTNeoXAttention")
		l.qkv = t.linear(p+".attention.query_key_value", c.Hidden, 3*c.Hidden, c.AttentionBias, false)
		l.dense = t.linear(p+".attention.dense", c.Hidden, c.Hidden, c.AttentionBias, false)
		t.container(p+".mlp", "GPTNeoXMLP")
		l.up = t.linear(p+".mlp.dense_h_to_4h", c.Hidden, c.Intermediate, true, false)
		l.down = t.linear(p+".mlp.dense_4h_to_h", c.Intermediate, c.Hidden, true, false)
		t.activation(p+".mlp.act", c.Act)
		m.layers = append(m.layers, l)
	}
	m.norm = t.layerNorm("gpt_neox.final_layer_norm", c.Hidden, c.NormEps)
	t.container("gpt_neox.rotary_emb", "GPTNeoXRotaryEmbedding")
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("embed_out", c.Hidden, c.VocabSize, m.embed.Weight)
		}
		return t.linear("embed_out", c.Hidden, c.VocabSize, false, false)
	})
	return m
}

func (m *gptNeoX) outputLayer() string { return headName(m.cfg, "embed_out") }

func (m *gptNeoX) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_neox forward", err)
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	B, T, D := in.Batch, in.Seq, c.HeadDim
	for i, l := range m.layers {
		// query_key_value's output is [B, T, H, 3·D]: per head, the
		// query, then the key, then the value.
		qkv := g.Reshape(g.Linear(g.Norm(x, l.ln1), l.qkv), B, T, c.Heads, 3*D)
		head := func(j int) *nn.Value { return g.Permute(g.Narrow(qkv, 3, j*D, D), 0, 2, 1, 3) }
		q, k, v := g.Rope(head(0), invFreq, pos), g.Rope(head(1), invFreq, pos), head(2)
		k, v = cached(g, cache, i, k, v)
		o := backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: km}
		a := g.Linear(attend(g, q, k, v, o), l.dense)
		if c.ParallelResidual {
			f := g.Linear(g.Act(act, g.Linear(g.Norm(x, l.ln2), l.up)), l.down)
			x = g.Add(g.Add(f, a), x)
		} else {
			x = g.Add(a, x)
			x = g.Add(g.Linear(g.Act(act, g.Linear(g.Norm(x, l.ln2), l.up)), l.down), x)
		}
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}
