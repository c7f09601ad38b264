package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// llama is LlamaForCausalLM and its relatives: RMSNorm, rotary positions,
// grouped-query attention and a gated MLP. Qwen2 adds q/k/v biases;
// Llama's attention_bias and mlp_bias add biases everywhere. Mistral,
// Qwen2/Qwen3 (when configured) and Gemma 2/3 slide a window over the
// keys on the layers config.layer_types marks; Qwen3 and Gemma 3 norm
// each query and key head; Gemma scales the embedding by √hidden and its
// norms by (1 + weight); Gemma 2/3 add norms after attention and around
// the MLP and a query_pre_attn_scalar; Gemma 2 soft-caps the attention
// and output logits; Gemma 3 rotates sliding layers with its local base;
// Mixtral replaces the MLP by a sparse mixture of experts (mixtral.go).
type llama struct {
	cfg    *Config
	embed  *nn.Embedding
	layers []llamaLayer
	norm   *nn.Norm
	lmHead *nn.Linear
	// score is the sequence classification head (TaskSeqCls), which
	// replaces lm_head.
	score   *nn.Linear
	invFreq []float32
	// localInvFreq rotates sliding layers when config.LocalRope is set.
	localInvFreq []float32
}

type llamaLayer struct {
	q, k, v, o       *nn.Linear
	gate, up, down   *nn.Linear
	inNorm, postNorm *nn.Norm
	// qNorm and kNorm norm each head (config.QKNorm); preFF and postFF
	// are Gemma 2/3's pre_feedforward_layernorm and
	// post_feedforward_layernorm (config.SandwichNorms), where postNorm
	// norms the attention output.
	qNorm, kNorm  *nn.Norm
	preFF, postFF *nn.Norm
	// qkv and gateUp are Phi-3's fused projections (config.FusedProjections),
	// which then replace q, k, v, gate and up.
	qkv, gateUp *nn.Linear
	// moe is Mixtral's block_sparse_moe, which replaces the MLP.
	moe *moeBlock
}

// llamaClassPrefix is the transformers class prefix of each family member.
var llamaClassPrefix = map[string]string{"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2",
	"qwen3": "Qwen3", "gemma": "Gemma", "gemma2": "Gemma2", "gemma3_text": "Gemma3", "phi3": "Phi3", "mixtral": "Mixtral"}

func buildLlama(c *Config, t *treeBuilder) *llama {
	cls := llamaClassPrefix[c.ModelType]
	rot := c.HeadDim
	if c.RotaryDim > 0 {
		rot = c.RotaryDim
	}
	m := &llama{cfg: c, invFreq: ropeInvFreq(c.Rope, rot)}
	if c.LocalRope != nil {
		m.localInvFreq = ropeInvFreq(*c.LocalRope, rot)
	}
	norm := func(name string, dim int) *nn.Norm {
		n := t.rmsNorm(name, cls+"RMSNorm", dim, c.NormEps)
		if c.GemmaNorm {
			n.WeightOffset = 1
		}
		return n
	}
	t.container("", c.Architecture)
	if c.ModelType == "gemma3_text" {
		t.container("model", "Gemma3TextModel")
	} else {
		t.container("model", cls+"Model")
	}
	m.embed = t.embedding("model.embed_tokens", c.VocabSize, c.Hidden)
	t.container("model.layers", "ModuleList")
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	qkvBias := c.AttentionBias || c.QKVBias
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d", i)
		var l llamaLayer
		t.container(p, cls+"DecoderLayer")
		t.container(p+".self_attn", cls+"Attention")
		if c.FusedProjections {
			buildPhi3Layer(c, t, p, &l)
			m.layers = append(m.layers, l)
			continue
		}
		l.q = t.linear(p+".self_attn.q_proj", c.Hidden, qDim, qkvBias, false)
		l.k = t.linear(p+".self_attn.k_proj", c.Hidden, kvDim, qkvBias, false)
		l.v = t.linear(p+".self_attn.v_proj", c.Hidden, kvDim, qkvBias, false)
		l.o = t.linear(p+".self_attn.o_proj", qDim, c.Hidden, c.AttentionBias, false)
		if c.QKNorm {
			l.qNorm = norm(p+".self_attn.q_norm", c.HeadDim)
			l.kNorm = norm(p+".self_attn.k_norm", c.HeadDim)
		}
		if c.NumExperts > 0 {
			l.moe = buildMoE(c, t, p)
			l.inNorm = norm(p+".input_layernorm", c.Hidden)
			l.postNorm = norm(p+".post_attention_layernorm", c.Hidden)
			m.layers = append(m.layers, l)
			continue
		}
		t.container(p+".mlp", cls+"MLP")
		l.gate = t.linear(p+".mlp.gate_proj", c.Hidden, c.Intermediate, c.MLPBias, false)
		l.up = t.linear(p+".mlp.up_proj", c.Hidden, c.Intermediate, c.MLPBias, false)
		l.down = t.linear(p+".mlp.down_proj", c.Intermediate, c.Hidden, c.MLPBias, false)
		t.activation(p+".mlp.act_fn", c.Act)
		l.inNorm = norm(p+".input_layernorm", c.Hidden)
		l.postNorm = norm(p+".post_attention_layernorm", c.Hidden)
		if c.SandwichNorms {
			l.preFF = norm(p+".pre_feedforward_layernorm", c.Hidden)
			l.postFF = norm(p+".post_feedforward_layernorm", c.Hidden)
		}
		m.layers = append(m.layers, l)
	}
	m.norm = norm("model.norm", c.Hidden)
	t.container("model.rotary_emb", cls+"RotaryEmbedding")
	if c.TaskType == TaskSeqCls {
		m.score = t.linear("score", c.Hidden, c.NumLabels, false, false)
	} else if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear("lm_head", c.Hidden, c.VocabSize, m.embed.Weight)
	} else {
		m.lmHead = t.linear("lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m
}

// ropeInvFreq computes the rotary inverse frequencies as transformers'
// rope initialisers do: 1/θ^(2i/d) in float32 arithmetic (torch builds the
// exponent as a float32 tensor, raises θ to it and inverts, each step
// rounded to float32), then the scaling of the rope type.
func ropeInvFreq(r RopeConfig, dim int) []float32 {
	out := make([]float32, dim/2)
	for i := range out {
		exp := float32(2*i) / float32(dim)
		out[i] = 1 / float32(math.Pow(r.Theta, float64(exp)))
	}
	switch r.Type {
	case "linear":
		for i := range out {
			out[i] = float32(float64(out[i]) / r.Factor)
		}
	case "llama3":
		lowWavelen := float64(r.OriginalMaxPositions) / r.LowFreqFactor
		highWavelen := float64(r.OriginalMaxPositions) / r.HighFreqFactor
		for i, f := range out {
			wavelen := 2 * math.Pi / float64(f)
			switch {
			case wavelen > lowWavelen:
				out[i] = float32(float64(f) / r.Factor)
			case wavelen >= highWavelen:
				smooth := (float64(r.OriginalMaxPositions)/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				out[i] = float32((1-smooth)*float64(f)/r.Factor + smooth*float64(f))
			}
		}
	}
	return out
}

func (m *llama) outputLayer() string {
	if m.score != nil {
		return "score"
	}
	return "lm_head"
}

func (m *llama) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("llama forward", err)
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	if c.EmbedScale {
		// Gemma multiplies by √hidden_size rounded to the hidden dtype.
		x = g.Affine(x, float32(math.Sqrt(float64(c.Hidden))), 0)
	}
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	localInvFreq := invFreq
	if m.localInvFreq != nil {
		localInvFreq = floats(g, m.localInvFreq, len(m.localInvFreq))
	}
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	if c.QueryPreAttnScalar > 0 {
		scale = float32(1 / math.Sqrt(c.QueryPreAttnScalar))
	}
	// Each residual add and the norm after it run as one AddNorm: the
	// attention output's with the feed-forward's norm, and the
	// feed-forward output's with the next layer's input_layernorm (the
	// last one's with nothing: model.norm follows lastOnly).
	var h *nn.Value
	if len(m.layers) > 0 {
		h = g.Norm(x, m.layers[0].inNorm)
	}
	for i, l := range m.layers {
		window := c.LayerWindow(i)
		freq := invFreq
		if m.localInvFreq != nil && c.LayerTypes[i] == SlidingAttention {
			freq = localInvFreq
		}
		qp, kp, vp := m.qkv(g, h, l)
		q := splitHeads(g, qp, c.Heads, c.HeadDim)
		k := splitHeads(g, kp, c.KVHeads, c.HeadDim)
		if c.QKNorm {
			q, k = g.Norm(q, l.qNorm), g.Norm(k, l.kNorm)
		}
		q, k = g.Rope(q, freq, pos), g.Rope(k, freq, pos)
		v := splitHeads(g, vp, c.KVHeads, c.HeadDim)
		k, v = cached(g, cache, i, k, v)
		o := backend.SoftmaxOptions{Scale: scale, Causal: true, Window: window, KeyMask: km}
		a := g.Linear(attendCapped(g, q, k, v, o, float32(c.AttnSoftcap)), l.o)
		if c.SandwichNorms {
			a = g.Norm(a, l.postNorm)
		}
		ffNorm := l.postNorm
		if c.SandwichNorms {
			ffNorm = l.preFF
		}
		x, h = g.AddNorm(x, a, ffNorm)
		var f *nn.Value
		if l.moe != nil {
			f = l.moe.forward(g, h, act)
		} else {
			gate, up := m.gateUp(g, h, l)
			var gated *nn.Value
			if act == backend.SiLU {
				gated = g.SwiGLU(gate, up)
			} else {
				gated = g.Mul(g.Act(act, gate), up)
			}
			f = g.Linear(gated, l.down)
		}
		if c.SandwichNorms {
			f = g.Norm(f, l.postFF)
		}
		if i+1 < len(m.layers) {
			x, h = g.AddNorm(x, f, m.layers[i+1].inNorm)
		} else {
			x = g.Add(x, f)
		}
	}
	var logits *nn.Value
	if m.score != nil {
		// GenericForSequenceClassification: no final soft-cap.
		logits = m.classify(g, g.Norm(x, m.norm), in)
	} else {
		logits = softcap(g, g.Linear(g.Norm(lastOnly(g, x, in), m.norm), m.lmHead), float32(c.FinalSoftcap))
	}
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}

// rotaryInputs starts a rotary decoder's forward pass: the token
// embeddings x [B, T, hidden], the I32 positions [B, T] (continuing the
// cache), the key mask over cached and new keys [B, Tk], and the new
// tokens' mask, which the cache commits at the end.
func rotaryInputs(g *nn.Graph, embed *nn.Embedding, in *Inputs, cache *KVCache, hidden int) (x *nn.Value, pos, km backend.Tensor, mask []float32) {
	B, T := in.Batch, in.Seq
	past := 0
	if cache != nil {
		past = cache.n
	}
	x = g.Reshape(g.Embedding(embed, ints(g, in.InputIDs, B*T)), B, T, hidden)
	pos = ints(g, positions(in, past), B, T)
	mask, keyMask := in.mask(), in.mask()
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	return x, pos, floats(g, keyMask, B, len(keyMask)/B), mask
}
