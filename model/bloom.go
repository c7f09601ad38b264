package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/nn"
)

// bloom is BloomForCausalLM: a LayerNorm after the word embeddings, ALiBi
// position biases instead of position embeddings, a fused query_key_value
// whose heads each hold [q, k, v], a tanh-GELU MLP and an lm_head tied to
// the word embeddings.
type bloom struct {
	cfg     *Config
	embed   *nn.Embedding
	embedLN *nn.Norm
	blocks  []bloomBlock
	lnF     *nn.Norm
	lmHead  *nn.Linear
	slopes  []float32
}

type bloomBlock struct {
	ln1, ln2   *nn.Norm
	qkv, dense *nn.Linear
	up, down   *nn.Linear
}

func buildBloom(c *Config, t *treeBuilder) *bloom {
	m := &bloom{cfg: c, slopes: alibiSlopes(c.Heads)}
	t.container("", "BloomForCausalLM")
	t.container("transformer", "BloomModel")
	m.embed = t.embedding("transformer.word_embeddings", c.VocabSize, c.Hidden)
	m.embedLN = t.layerNorm("transformer.word_embeddings_layernorm", c.Hidden, c.NormEps)
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var b bloomBlock
		t.container(p, "BloomBlock")
		b.ln1 = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		t.container(p+".self_attention", "BloomAttention")
		b.qkv = t.linear(p+".self_attention.query_key_value", c.Hidden, 3*c.Hidden, true, false)
		b.dense = t.linear(p+".self_attention.dense", c.Hidden, c.Hidden, true, false)
		t.dropout(p + ".self_attention.attention_dropout")
		b.ln2 = t.layerNorm(p+".post_attention_layernorm", c.Hidden, c.NormEps)
		t.container(p+".mlp", "BloomMLP")
		b.up = t.linear(p+".mlp.dense_h_to_4h", c.Hidden, c.Intermediate, true, false)
		t.container(p+".mlp.gelu_impl", "BloomGelu")
		b.down = t.linear(p+".mlp.dense_4h_to_h", c.Intermediate, c.Hidden, true, false)
		m.blocks = append(m.blocks, b)
	}
	m.lnF = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = lmHead(c, t, c.Hidden, m.embed, false)
	return m
}

func (m *bloom) outputLayer() string { return "lm_head" }

func (m *bloom) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("bloom forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := g.Norm(s.embed(m.embed, c.Hidden), m.embedLN)
	alibi := s.alibiBias(m.slopes)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	postLN := c.GPT.ResidualPostLN
	for i, b := range m.blocks {
		h := g.Norm(x, b.ln1)
		res := x
		if postLN {
			res = h
		}
		q, k, v := headsInterleaved(g, g.Linear(h, b.qkv), c.Heads, c.HeadDim)
		x = g.Add(res, g.Linear(s.attention(i, q, k, v, scale, alibi), b.dense))
		h = g.Norm(x, b.ln2)
		res = x
		if postLN {
			res = h
		}
		x = g.Add(res, g.Linear(g.Act(act, g.Linear(h, b.up)), b.down))
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
