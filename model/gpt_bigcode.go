package model

import (
	"math"

	"github.com/ia3/ia3/model/nn"
)

// bigCode is GPTBigCodeForCausalLM (SantaCoder, StarCoder): GPT-2's
// layout with torch Linear layers and multi-query attention, a fused
// c_attn holding all queries then one key and one value head (per head
// [q, k, v] without multi_query), and an lm_head tied to wte.
type bigCode struct {
	cfg *Config
	gpt2Layout
}

func buildBigCode(c *Config, t *treeBuilder) *bigCode {
	qkv := c.Hidden + 2*c.KVHeads*c.HeadDim
	return &bigCode{cfg: c, gpt2Layout: buildGPT2Layout(c, t, "GPTBigCode", false, fusedAttention(c, t, qkv, false))}
}

func (m *bigCode) outputLayer() string { return "lm_head" }

func (m *bigCode) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("gpt_bigcode forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := g.Add(s.embed(m.wte, c.Hidden), s.learnedPositions(m.wpe, positions(in, s.past), c.MaxPositions, c.Hidden))
	scale := float32(1)
	if c.ScaleAttnWeights {
		scale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	}
	for i, b := range m.blocks {
		qkv := g.Linear(g.Norm(x, b.ln1), b.cAttn)
		var q, k, v *nn.Value
		if c.GPT.MultiQuery {
			q, k, v = headsStacked(g, qkv, c.Heads, 1, c.HeadDim)
		} else {
			q, k, v = headsInterleaved(g, qkv, c.Heads, c.HeadDim)
		}
		x = g.Add(x, g.Linear(s.attention(i, q, k, v, scale), b.attnProj))
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(g.Norm(x, b.ln2), b.cFC)), b.mlpProj))
	}
	return s.finish(g.Linear(g.Norm(x, m.lnF), m.lmHead))
}
