package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// bloom is BloomForCausalLM: a LayerNorm after the word embedding, fused
// query_key_value laid out per head (q, k, v of head 0, then head 1, …),
// ALiBi position biases instead of position embeddings, biases everywhere
// and a tied head.
type bloom struct {
	cfg       *Config
	embed     *nn.Embedding
	embedNorm *nn.Norm
	layers    []bloomLayer
	norm      *nn.Norm
	lmHead    *nn.Linear // lm_head, or score (BloomForSequenceClassification)
	slopes    []float32
}

type bloomLayer struct {
	ln1, ln2   *nn.Norm
	qkv, dense *nn.Linear
	up, down   *nn.Linear
}

func buildBloom(c *Config, t *treeBuilder) *bloom {
	m := &bloom{cfg: c, slopes: alibiSlopes(c.Heads)}
	t.container("", c.Architecture)
	t.container("transformer", "BloomModel")
	m.embed = t.embedding("transformer.word_embeddings", c.VocabSize, c.Hidden)
	m.embedNorm = t.layerNorm("transformer.word_embeddings_layernorm", c.Hidden, c.NormEps)
	t.container("transformer.h", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("transformer.h.%d", i)
		var l bloomLayer
		t.container(p, "BloomBlock")
		l.ln1 = t.layerNorm(p+".input_layernorm", c.Hidden, c.NormEps)
		t.container(p+".self_attention", "BloomAttention")
		l.qkv = t.linear(p+".self_attention.query_key_value", c.Hidden, 3*c.Hidden, true, false)
		l.dense = t.linear(p+".self_attention.dense", c.Hidden, c.Hidden, true, false)
		t.dropout(p + ".self_attention.attention_dropout")
		l.ln2 = t.layerNorm(p+".post_attention_layernorm", c.Hidden, c.NormEps)
		t.container(p+".mlp", "BloomMLP")
		l.up = t.linear(p+".mlp.dense_h_to_4h", c.Hidden, 4*c.Hidden, true, false)
		t.container(p+".mlp.gelu_impl", "BloomGelu")
		l.down = t.linear(p+".mlp.dense_4h_to_h", 4*c.Hidden, c.Hidden, true, false)
		m.layers = append(m.layers, l)
	}
	m.norm = t.layerNorm("transformer.ln_f", c.Hidden, c.NormEps)
	m.lmHead = decoderHead(c, t, c.Hidden, func() *nn.Linear {
		if c.TieWordEmbeddings {
			return t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.embed.Weight)
		}
		return t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	})
	return m
}

// alibiSlopes returns the ALiBi slope of each head as transformers'
// build_alibi_tensor computes it (float32 powers of 2^(−8/n) for the
// largest power of two n ≤ heads, then odd powers of 2^(−4/n) for the
// rest).
func alibiSlopes(heads int) []float32 {
	if heads <= 0 {
		return nil
	}
	n := 1 << int(math.Floor(math.Log2(float64(heads))))
	base := float32(math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3))))
	out := make([]float32, 0, heads)
	for i := 1; i <= n; i++ {
		out = append(out, float32(math.Pow(float64(base), float64(i))))
	}
	if n != heads {
		extra := float32(math.Pow(2, -math.Pow(2, -(math.Log2(float64(2*n))-3))))
		for i := 1; len(out) < heads && i < 2*n; i += 2 {
			out = append(out, float32(math.Pow(float64(extra), float64(i))))
		}
	}
	return out
}

func (m *bloom) outputLayer() string { return headName(m.cfg, "lm_head") }

// alibiFeatures returns the extra feature ALiBi adds to each query and
// key so that their product is slope_h · position_j: the slopes for the
// queries [B, H, T, 1], and for the new keys their positions, counted as
// build_alibi_tensor counts them ((cumsum(mask) − 1) · mask over the cached
// and new tokens), [B, H, T, 1].
func (m *bloom) alibiFeatures(B, T int, keyMask []float32) (qf, kf []float32) {
	H := m.cfg.Heads
	tk := len(keyMask) / B
	qf, kf = make([]float32, B*H*T), make([]float32, B*H*T)
	for b := 0; b < B; b++ {
		var n float32
		for j, v := range keyMask[b*tk : (b+1)*tk] {
			if v != 0 {
				n++
			}
			t := j - (tk - T)
			if t < 0 {
				continue
			}
			pos := float32(0)
			if v != 0 {
				pos = n - 1
			}
			for h := 0; h < H; h++ {
				kf[(b*H+h)*T+t] = pos
				qf[(b*H+h)*T+t] = m.slopes[h]
			}
		}
	}
	return qf, kf
}

func (m *bloom) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	B, T, D, H := in.Batch, in.Seq, c.HeadDim, c.Heads
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	km := floats(g, keyMask, B, len(keyMask)/B)
	qf, kf := m.alibiFeatures(B, T, keyMask)
	slope, kpos := g.Constant(floats(g, qf, B, H, T, 1)), g.Constant(floats(g, kf, B, H, T, 1))
	x := g.Reshape(g.Embedding(m.embed, ints(g, in.InputIDs, B*T)), B, T, c.Hidden)
	x = g.Norm(x, m.embedNorm)
	scale := float32(1 / math.Sqrt(float64(D)))
	for i, l := range m.layers {
		h := g.Norm(x, l.ln1)
		res := x
		if c.ResidualAfterNorm {
			res = h
		}
		// query_key_value's output is [B, T, H, 3, D].
		qkv := g.Reshape(g.Linear(h, l.qkv), B, T, H, 3*D)
		head := func(j int) *nn.Value { return g.Permute(g.Narrow(qkv, 3, j*D, D), 0, 2, 1, 3) }
		// q·k/√D + slope·position in one product: [q/√D, slope]·[k, position].
		q := g.Concat(3, g.Affine(head(0), scale, 0), slope)
		k := g.Concat(3, head(1), kpos)
		k, v := cached(g, cache, i, k, head(2))
		a := attend(g, q, k, v, backend.SoftmaxOptions{Scale: 1, Causal: true, KeyMask: km})
		x, h = g.AddNorm(g.Linear(a, l.dense), res, l.ln2)
		res = x
		if c.ResidualAfterNorm {
			res = h
		}
		x = g.Add(g.Linear(g.Act(backend.GELUTanh, g.Linear(h, l.up)), l.down), res)
	}
	logits := g.Linear(g.Norm(headTokens(g, x, in, c, c.Hidden), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, T)
	}
	return logits
}
