package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/nn"
)

// optPositionOffset is OPTLearnedPositionalEmbedding's offset: position p
// reads row p + 2 of embed_positions.
const optPositionOffset = 2

// opt is OPTForCausalLM: learned positions offset by 2 and counted over the
// attention mask, separate q/k/v projections, pre-LN blocks (post-LN with
// do_layer_norm_before false), a ReLU MLP, optional project_in/project_out
// when word_embed_proj_dim differs from hidden_size, and an lm_head tied
// to embed_tokens.
type opt struct {
	cfg                   *Config
	embed, positions      *nn.Embedding
	projectIn, projectOut *nn.Linear
	final                 *nn.Norm
	layers                []optLayer
	lmHead                *nn.Linear
}

type optLayer struct {
	q, k, v, o          *nn.Linear
	fc1, fc2            *nn.Linear
	attnNorm, finalNorm *nn.Norm
}

func buildOPT(c *Config, t *treeBuilder) *opt {
	m := &opt{cfg: c}
	proj := c.GPT.WordEmbedProjDim
	t.container("", "OPTForCausalLM")
	t.container("model", "OPTModel")
	t.container("model.decoder", "OPTDecoder")
	m.embed = t.embedding("model.decoder.embed_tokens", c.VocabSize, proj)
	m.positions = t.embedding("model.decoder.embed_positions", c.MaxPositions+optPositionOffset, c.Hidden)
	if proj != c.Hidden {
		m.projectOut = t.linear("model.decoder.project_out", c.Hidden, proj, false, false)
		m.projectIn = t.linear("model.decoder.project_in", proj, c.Hidden, false, false)
	}
	if c.GPT.LayerNormBefore {
		m.final = t.layerNorm("model.decoder.final_layer_norm", c.Hidden, c.NormEps)
	}
	t.container("model.decoder.layers", "ModuleList")
	b := c.GPT.Bias
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.decoder.layers.%d", i)
		var l optLayer
		t.container(p, "OPTDecoderLayer")
		t.container(p+".self_attn", "OPTAttention")
		l.k = t.linear(p+".self_attn.k_proj", c.Hidden, c.Hidden, b, false)
		l.v = t.linear(p+".self_attn.v_proj", c.Hidden, c.Hidden, b, false)
		l.q = t.linear(p+".self_attn.q_proj", c.Hidden, c.Hidden, b, false)
		l.o = t.linear(p+".self_attn.out_proj", c.Hidden, c.Hidden, b, false)
		t.activation(p+".activation_fn", c.Act)
		l.attnNorm = t.layerNorm(p+".self_attn_layer_norm", c.Hidden, c.NormEps)
		l.fc1 = t.linear(p+".fc1", c.Hidden, c.Intermediate, b, false)
		l.fc2 = t.linear(p+".fc2", c.Intermediate, c.Hidden, b, false)
		l.finalNorm = t.layerNorm(p+".final_layer_norm", c.Hidden, c.NormEps)
		m.layers = append(m.layers, l)
	}
	m.lmHead = lmHead(c, t, proj, m.embed, false)
	return m
}

func (m *opt) outputLayer() string { return "lm_head" }

// optPositions returns OPT's position ids of the new tokens when the
// inputs give none: (cumsum(mask) · mask − 1) over every key, the last T of
// each row (padding gets −1, row 1 of the table after the offset).
func (s *decoderStep) optPositions() []int32 {
	if s.in.PositionIDs != nil {
		return s.in.PositionIDs
	}
	out := make([]int32, 0, s.B*s.T)
	Tk := s.keyCount
	for b := 0; b < s.B; b++ {
		var sum float32
		for j := 0; j < Tk; j++ {
			m := s.keyMask[b*Tk+j]
			sum += m
			if j >= s.past {
				out = append(out, int32(sum*m)-1)
			}
		}
	}
	return out
}

func (m *opt) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("opt forward", err)
	}
	s := newDecoderStep(g, in, cache)
	x := s.embed(m.embed, c.GPT.WordEmbedProjDim)
	if m.projectIn != nil {
		x = g.Linear(x, m.projectIn)
	}
	x = g.Add(x, s.learnedPositions(m.positions, s.optPositions(), optPositionOffset, c.MaxPositions+optPositionOffset, c.Hidden))
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	before := c.GPT.LayerNormBefore
	for i, l := range m.layers {
		h := x
		if before {
			h = g.Norm(h, l.attnNorm)
		}
		q := splitHeads(g, g.Linear(h, l.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, l.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, l.v), c.Heads, c.HeadDim)
		x = g.Add(x, g.Linear(s.attention(i, q, k, v, scale, nil), l.o))
		if !before {
			x = g.Norm(x, l.attnNorm)
		}
		h = x
		if before {
			h = g.Norm(h, l.finalNorm)
		}
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(h, l.fc1)), l.fc2))
		if !before {
			x = g.Norm(x, l.finalNorm)
		}
	}
	if m.final != nil {
		x = g.Norm(x, m.final)
	}
	if m.projectOut != nil {
		x = g.Linear(x, m.projectOut)
	}
	return s.finish(g.Linear(x, m.lmHead))
}
