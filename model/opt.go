package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// optPositionOffset is OPTLearnedPositionalEmbedding's offset: position p
// reads row p + 2 of embed_positions (so padding, position −1, reads row 1).
const optPositionOffset = 2

// opt is OPTForCausalLM: learned positions offset by 2 and counted over
// the attention mask, LayerNorm before (or, for OPT-350m, after) each
// block, k/v/q/out projections with queries scaled before the product,
// fc1/fc2, and an optional project_in/project_out between a narrower
// word embedding and the hidden size.
type opt struct {
	cfg                *Config
	embed, positions   *nn.Embedding
	projectIn, projOut *nn.Linear
	finalNorm          *nn.Norm
	layers             []optLayer
	// lmHead is lm_head, or score [num_labels, word_embed_proj_dim]
	// (OPTForSequenceClassification), after project_out.
	lmHead *nn.Linear
}

type optLayer struct {
	q, k, v, out *nn.Linear
	attnNorm     *nn.Norm
	fc1, fc2     *nn.Linear
	ffNorm       *nn.Norm
}

func buildOPT(c *Config, t *treeBuilder) *opt {
	m := &opt{cfg: c}
	t.container("", c.Architecture)
	t.container("model", "OPTModel")
	t.container("model.decoder", "OPTDecoder")
	m.embed = t.embedding("model.decoder.embed_tokens", c.VocabSize, c.WordEmbedDim)
	m.positions = t.embedding("model.decoder.embed_positions", c.MaxPositions+optPositionOffset, c.Hidden)
	if c.WordEmbedDim != c.Hidden {
		m.projOut = t.linear("model.decoder.project_out", c.Hidden, c.WordEmbedDim, false, false)
		m.projectIn = t.linear("model.decoder.project_in", c.WordEmbedDim, c.Hidden, false, false)
	}
	if c.NormBefore && !c.RemoveFinalNorm {
		m.finalNorm = t.layerNorm("model.decoder.final_layer_norm", c.Hidden, c.NormEps)
	}
	t.container("model.decoder.layers", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.decoder.layers.%d", i)
		var l optLayer
		t.container(p, "OPTDecoderLayer")
		t.container(p+".self_attn", "OPTAttention")
		l.k = t.linear(p+".self_attn.k_proj", c.Hidden, c.Hidden, c.AttentionBias, false)
		l.v = t.linear(p+".self_attn.v_proj", c.Hidden, c.Hidden, c.AttentionBias, false)
		l.q = t.linear(p+".self_attn.q_proj", c.Hidden, c.Hidden, c.AttentionBias, false)
		l.out = t.linear(p+".self_attn.out_proj", c.Hidden, c.Hidden, c.AttentionBias, false)
		t.activation(p+".activation_fn", c.Act)
		l.attnNorm = t.layerNorm(p+".self_attn_layer_norm", c.Hidden, c.NormEps)
		l.fc1 = t.linear(p+".fc1", c.Hidden, c.Intermediate, c.AttentionBias, false)
		l.fc2 = t.linear(p+".fc2", c.Intermediate, c.Hidden, c.AttentionBias, false)
		l.ffNorm = t.layerNorm(p+".final_layer_norm", c.Hidden, c.NormEps)
		m.layers = append(m.layers, l)
	}
	m.lmHead = decoderHead(c, t, c.WordEmbedDim, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("lm_head", c.WordEmbedDim, c.VocabSize, m.embed.Weight)
		}
		return t.linear("lm_head", c.WordEmbedDim, c.VocabSize, false, false)
	})
	return m
}

func (m *opt) outputLayer() string { return headName(m.cfg, "lm_head") }

// optPositions returns the position-embedding rows of the new tokens:
// in.PositionIDs + 2 when given, else OPTDecoder's
// cumsum(mask)·mask − 1 over the cached and new tokens, + 2.
func optPositions(in *Inputs, keyMask []float32) []int32 {
	B, T := in.Batch, in.Seq
	out := make([]int32, B*T)
	if in.PositionIDs != nil {
		for i, p := range in.PositionIDs {
			out[i] = p + optPositionOffset
		}
		return out
	}
	tk := len(keyMask) / B
	for b := 0; b < B; b++ {
		var n int32
		row := keyMask[b*tk : (b+1)*tk]
		for j, v := range row {
			if v != 0 {
				n++
			}
			if t := j - (tk - T); t >= 0 {
				p := int32(-1)
				if v != 0 {
					p = n - 1
				}
				out[b*T+t] = p + optPositionOffset
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
	B, T := in.Batch, in.Seq
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	for _, p := range in.PositionIDs {
		if int(p)+optPositionOffset < 0 || int(p)+optPositionOffset >= c.MaxPositions+optPositionOffset {
			return g.Fail("opt forward", fmt.Errorf("position id %d is outside [-2, %d)", p, c.MaxPositions))
		}
	}
	km := floats(g, keyMask, B, len(keyMask)/B)
	x := g.Reshape(g.Embedding(m.embed, ints(g, in.InputIDs, B*T)), B, T, c.WordEmbedDim)
	if m.projectIn != nil {
		x = g.Linear(x, m.projectIn)
	}
	pe := g.Reshape(g.Embedding(m.positions, ints(g, optPositions(in, keyMask), B*T)), B, T, c.Hidden)
	x = g.Add(x, pe)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for i, l := range m.layers {
		h := x
		if c.NormBefore {
			h = g.Norm(x, l.attnNorm)
		}
		// OPTAttention scales the query projection, then multiplies.
		q := splitHeads(g, g.Affine(g.Linear(h, l.q), scale, 0), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(h, l.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(h, l.v), c.Heads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		x = g.Add(x, g.Linear(attend(g, q, k, v, backend.SoftmaxOptions{Scale: 1, Causal: true, KeyMask: km}), l.out))
		if !c.NormBefore {
			x = g.Norm(x, l.attnNorm)
		}
		h = x
		if c.NormBefore {
			h = g.Norm(x, l.ffNorm)
		}
		x = g.Add(x, g.Linear(g.Act(act, g.Linear(h, l.fc1)), l.fc2))
		if !c.NormBefore {
			x = g.Norm(x, l.ffNorm)
		}
	}
	x = headTokens(g, x, in, c, c.Hidden)
	if m.finalNorm != nil {
		x = g.Norm(x, m.finalNorm)
	}
	if m.projOut != nil {
		x = g.Linear(x, m.projOut)
	}
	logits := g.Linear(x, m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, T)
	}
	return logits
}
