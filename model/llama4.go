package model

import (
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// Llama4Options holds what Llama4TextConfig adds to the Llama layout
// (model_type llama4_text, and the text_config of a composite llama4).
type Llama4Options struct {
	// Composite is Llama4ForConditionalGeneration: only its language
	// model is built, under transformers' names language_model.model.… and
	// language_model.lm_head; the vision tower and projector are not.
	Composite bool
	// UseRope[i] is no_rope_layers[i]: 1 rotates layer i's queries and
	// keys, 0 makes it a NoPE layer.
	UseRope []bool
	// Chunked[i] says layer i attends within chunks of ChunkSize
	// (layer_types "chunked_attention"; by default the rope layers).
	Chunked []bool
	// MoE[i] says layer i's feed-forward is a Llama4TextMoe (moe_layers, or
	// every interleave_moe_layer_step-th layer); the others are dense
	// Llama4TextMLPs of IntermediateMLP features.
	MoE             []bool
	IntermediateMLP int
	// ChunkSize is attention_chunk_size: a query sees only the keys of its
	// own chunk, counted from each row's first non-padding token.
	ChunkSize int
	// L2QKNorm is use_qk_norm: queries and keys of rope layers are divided
	// by their root mean square (no weight) after the rotation.
	L2QKNorm bool
	// TempTuning is attn_temperature_tuning: NoPE layers multiply the query
	// at cache position p by log1p(floor((p+1)/FloorScale))·AttnScale + 1.
	TempTuning            bool
	FloorScale, AttnScale float64
}

// parseLlama4 reads Llama4TextConfig, from the file itself (llama4_text)
// or from its text_config (llama4, whose vision_config is not read: the
// vision tower is not built). Defaults are Llama4TextConfig's (Scout).
func parseLlama4(p *cfgParser, c *Config) {
	o := &Llama4Options{}
	c.Llama4 = o
	tp := p
	if c.ModelType == "llama4" {
		o.Composite = true
		// A ForConditionalGeneration class, but a causal LM of the text.
		c.TaskType = TaskCausalLM
		sub, ok := p.raw["text_config"].(map[string]any)
		if !ok {
			if p.raw["text_config"] != nil {
				p.fail("text_config", fmt.Sprintf("want an object, got %v", p.raw["text_config"]))
			}
			sub = map[string]any{}
		}
		tp = &cfgParser{raw: sub, prefix: "text_config."}
		defer func() {
			if tp.err != nil && p.err == nil {
				p.err = tp.err
			}
		}()
		c.PadTokenID = tp.optInt("pad_token_id", c.PadTokenID)
	}
	tp.decoderSizes(c, decoderDefaults{vocab: 202048, hidden: 5120, inter: 8192, layers: 48, heads: 40, headDim: 128,
		maxPos: 4096 * 32, eps: 1e-5})
	// num_key_value_heads and head_dim: the class defaults when missing,
	// the derived values when null (as __post_init__ fills them).
	if set, null := tp.present("num_key_value_heads"); !set && !null {
		c.KVHeads = 8
	} else if null {
		c.KVHeads = c.Heads
	}
	if _, null := tp.present("head_dim"); null && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.HeadDim%2 != 0 {
		tp.fail("head_dim", fmt.Sprintf("must be even for the rotary embedding, got %d", c.HeadDim))
	}
	c.Act = tp.str("hidden_act", "silu")
	c.TieWordEmbeddings = tp.bool("tie_word_embeddings", false)
	c.AttentionBias = tp.bool("attention_bias", false)
	c.Rope = parseRopeTheta(tp, 500000)
	o.IntermediateMLP = tp.int("intermediate_size_mlp", 16384)
	if o.IntermediateMLP < 1 || o.IntermediateMLP > MaxDimension {
		tp.fail("intermediate_size_mlp", fmt.Sprintf("want an integer in [1, %d], got %d", MaxDimension, o.IntermediateMLP))
	}
	c.NumExperts = tp.int("num_local_experts", 16)
	c.ExpertsPerToken = tp.int("num_experts_per_tok", 1)
	if c.NumExperts < 1 || c.NumExperts > MaxExperts {
		tp.fail("num_local_experts", fmt.Sprintf("want an integer in [1, %d], got %d", MaxExperts, c.NumExperts))
	}
	if c.ExpertsPerToken < 1 || c.ExpertsPerToken > c.NumExperts {
		tp.fail("num_experts_per_tok", fmt.Sprintf("want an integer in [1, num_local_experts %d], got %d", c.NumExperts, c.ExpertsPerToken))
	}
	o.L2QKNorm = tp.bool("use_qk_norm", true)
	o.TempTuning = tp.truthy("attn_temperature_tuning", true)
	o.FloorScale = tp.float("floor_scale", 8192)
	if !(o.FloorScale > 0) || math.IsInf(o.FloorScale, 0) {
		tp.fail("floor_scale", fmt.Sprintf("want a finite number > 0, got %g", o.FloorScale))
	}
	o.AttnScale = tp.float("attn_scale", 0.1)
	if math.IsNaN(o.AttnScale) || math.IsInf(o.AttnScale, 0) {
		tp.fail("attn_scale", fmt.Sprintf("want a finite number, got %g", o.AttnScale))
	}
	if tp.err != nil || c.Layers < 1 || c.Layers > MaxDimension {
		return // checkSizes names a bad num_hidden_layers
	}
	L := c.Layers
	interval := tp.int("no_rope_layer_interval", 4)
	if interval < 1 {
		tp.fail("no_rope_layer_interval", fmt.Sprintf("want a positive integer, got %d", interval))
		return
	}
	o.UseRope = make([]bool, L)
	if l := tp.ints("no_rope_layers"); len(l) > 0 {
		if len(l) < L {
			tp.fail("no_rope_layers", fmt.Sprintf("has %d entries for %d layers", len(l), L))
		}
		for i := 0; i < L && i < len(l); i++ {
			if l[i] != 0 && l[i] != 1 {
				tp.fail("no_rope_layers", fmt.Sprintf("entry %d is %d; want 1 (rope) or 0 (NoPE)", i, l[i]))
			}
			o.UseRope[i] = l[i] == 1
		}
	} else {
		for i := range o.UseRope {
			o.UseRope[i] = (i+1)%interval != 0
		}
	}
	o.Chunked = make([]bool, L)
	if types := tp.strings("layer_types"); types != nil {
		if len(types) != L {
			tp.fail("layer_types", fmt.Sprintf("has %d entries for %d layers", len(types), L))
		}
		for i := 0; i < L && i < len(types); i++ {
			switch types[i] {
			case "chunked_attention":
				o.Chunked[i] = true
			case FullAttention:
			default:
				tp.fail("layer_types", fmt.Sprintf("entry %d is %q; want chunked_attention or full_attention", i, types[i]))
			}
		}
	} else {
		copy(o.Chunked, o.UseRope)
	}
	switch set, null := tp.present("attention_chunk_size"); {
	case null:
		// transformers' forward builds the chunked mask unconditionally
		// and raises without a chunk size.
		tp.fail("attention_chunk_size", "null is not supported (transformers' Llama4TextModel needs a chunk size)")
	case !set:
		o.ChunkSize = 8192
	default:
		o.ChunkSize = tp.int("attention_chunk_size", 8192)
		if o.ChunkSize < 1 || o.ChunkSize > MaxDimension {
			tp.fail("attention_chunk_size", fmt.Sprintf("want an integer in [1, %d], got %d", MaxDimension, o.ChunkSize))
		}
	}
	step := tp.int("interleave_moe_layer_step", 1)
	o.MoE = make([]bool, L)
	if l := tp.ints("moe_layers"); l != nil {
		// transformers tests layer_idx in moe_layers: other values match
		// no layer.
		for _, i := range l {
			if i >= 0 && i < L {
				o.MoE[i] = true
			}
		}
	} else {
		if step < 1 {
			tp.fail("interleave_moe_layer_step", fmt.Sprintf("want a positive integer, got %d", step))
			return
		}
		for i := step - 1; i < L; i += step {
			o.MoE[i] = true
		}
	}
}

// truthy reads a flag that released configs also spell as a number
// (Llama 4 Scout's "attn_temperature_tuning": 4, which transformers tests
// for truth): true, false, or a number, non-zero meaning on.
func (p *cfgParser) truthy(key string, def bool) bool {
	if f, ok := p.value(key).(float64); ok {
		return f != 0
	}
	return p.bool(key, def)
}

// ints reads a list of integers (nil when missing or null).
func (p *cfgParser) ints(key string) []int {
	v := p.value(key)
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		p.fail(key, fmt.Sprintf("want a list of integers, got %v", v))
		return nil
	}
	out := make([]int, 0, len(l))
	for _, e := range l {
		var n int
		switch x := e.(type) {
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				p.fail(key, fmt.Sprintf("want a list of integers, got element %v", e))
				return nil
			}
			n = int(x)
		case bool:
			if x {
				n = 1
			}
		default:
			p.fail(key, fmt.Sprintf("want a list of integers, got element %v", e))
			return nil
		}
		out = append(out, n)
	}
	return out
}

// llama4 is Llama4ForCausalLM, or the language model of
// Llama4ForConditionalGeneration: Llama attention with rotary embeddings
// on interleaved pairs, NoPE layers, L2 q/k norms, attention temperature
// tuning and chunked local attention, and feed-forwards that alternate
// between dense MLPs and Llama4TextMoe (a top-k sigmoid router, fused
// experts and a shared expert).
type llama4 struct {
	cfg     *Config
	o       *Llama4Options
	embed   *nn.Embedding
	layers  []llama4Layer
	norm    *nn.Norm
	lmHead  *nn.Linear
	qkNorm  *nn.Norm // Llama4TextL2Norm: RMS without weight
	invFreq []float32
}

type llama4Layer struct {
	q, k, v, o       *nn.Linear
	inNorm, postNorm *nn.Norm
	// gate, up and down are the dense MLP's, or the shared expert's in a
	// MoE layer.
	gate, up, down *nn.Linear
	router         *nn.Linear
	experts        *llama4Experts
}

// llama4Experts is Llama4TextExperts. transformers keeps every expert's
// gate and up projections fused in one parameter gate_up_proj
// [E, hidden, 2·I] (gate columns first) and the down projections in
// down_proj [E, I, hidden], used as x·W. Here each expert's projection is
// its own Linear weight in torch's [out, in] layout (the transpose of its
// slice), so that ExpertLinear runs the routed tokens on the device, each
// weight is one buffer of its own size, and the weights are stored as the
// checkpoint stores them (F32, F16, BF16) or quantized like the blocks'
// other weights. The Linears are not in the module tree: the module is one
// Llama4TextExperts holding parameters, as in transformers, so no (IA)³
// target matches an expert (PEFT's IA3 adapts Linear-like modules only),
// and the checkpoint entries gate_up_proj and down_proj are cut into these
// weights at load and written back whole by Save (Model.fused).
type llama4Experts struct {
	gate, up, down []*nn.Linear
}

// Type returns the torch class name.
func (e *llama4Experts) Type() string { return "Llama4TextExperts" }

// Params returns the experts' weights, by local names that say where each
// lies in transformers' fused parameters ("gate_up_proj[2].up" is expert
// 2's up projection, "down_proj[2]" its down projection). The module is no
// nn.ParamSetter: a modules_to_save copy of it is refused, since PEFT's copy
// would train and save the fused parameters, which ExpertLinear's frozen
// per-expert weights cannot stand for.
func (e *llama4Experts) Params() map[string]*nn.Param {
	out := map[string]*nn.Param{}
	for i := range e.gate {
		out[fmt.Sprintf("gate_up_proj[%d].gate", i)] = e.gate[i].Weight
		out[fmt.Sprintf("gate_up_proj[%d].up", i)] = e.up[i].Weight
		out[fmt.Sprintf("down_proj[%d]", i)] = e.down[i].Weight
	}
	return out
}

// linears returns every expert's gate, up and down Linear (innerLinears).
func (e *llama4Experts) linears() []*nn.Linear {
	out := make([]*nn.Linear, 0, 3*len(e.gate))
	out = append(out, e.gate...)
	out = append(out, e.up...)
	return append(out, e.down...)
}

// buildLlama4Experts adds module f (…feed_forward.experts) and its
// per-expert weights, registered as the parts of the fused checkpoint
// entries f.gate_up_proj [E, H, 2I] and f.down_proj [E, I, H] in
// transformers' parameter order (gate_up_proj, then down_proj).
func buildLlama4Experts(t *treeBuilder, f string, E, H, I int) *llama4Experts {
	x := &llama4Experts{}
	t.add(f, x)
	gu := t.fusedEntry(f+".gate_up_proj", E, H, 2*I)
	for e := 0; e < E; e++ {
		x.gate = append(x.gate, t.fusedLinear(gu, fmt.Sprintf("%s.gate_up_proj[%d].gate", f, e), e, 0, H, I))
		x.up = append(x.up, t.fusedLinear(gu, fmt.Sprintf("%s.gate_up_proj[%d].up", f, e), e, I, H, I))
	}
	dn := t.fusedEntry(f+".down_proj", E, I, H)
	for e := 0; e < E; e++ {
		x.down = append(x.down, t.fusedLinear(dn, fmt.Sprintf("%s.down_proj[%d]", f, e), e, 0, I, H))
	}
	return x
}

// buildLlama4 assembles the module tree in transformers' named_modules()
// order; the composite's tree is its language_model subtree under the
// Llama4ForConditionalGeneration root.
func buildLlama4(c *Config, t *treeBuilder) (*llama4, error) {
	o := c.Llama4
	if o == nil || len(o.UseRope) != c.Layers || len(o.Chunked) != c.Layers || len(o.MoE) != c.Layers {
		return nil, fmt.Errorf("model_type %q: the config lacks its Llama 4 options (parse config.json with ParseConfig)", c.ModelType)
	}
	m := &llama4{cfg: c, o: o, invFreq: ropeInvFreq(c.Rope, c.HeadDim)}
	m.qkNorm = &nn.Norm{Class: "Llama4TextL2Norm", Eps: float32(c.NormEps), RMS: true}
	t.container("", c.Architecture)
	pre := ""
	if o.Composite {
		pre = "language_model."
		t.container("language_model", "Llama4ForCausalLM")
	}
	norm := func(name string) *nn.Norm { return t.rmsNorm(name, "Llama4TextRMSNorm", c.Hidden, c.NormEps) }
	mlp := func(p string, inter int, l *llama4Layer) {
		l.gate = t.linear(p+".gate_proj", c.Hidden, inter, false, false)
		l.up = t.linear(p+".up_proj", c.Hidden, inter, false, false)
		l.down = t.linear(p+".down_proj", inter, c.Hidden, false, false)
		t.activation(p+".activation_fn", c.Act)
	}
	t.container(pre+"model", "Llama4TextModel")
	m.embed = t.embedding(pre+"model.embed_tokens", c.VocabSize, c.Hidden)
	t.container(pre+"model.layers", "ModuleList")
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("%smodel.layers.%d", pre, i)
		var l llama4Layer
		t.container(p, "Llama4TextDecoderLayer")
		t.container(p+".self_attn", "Llama4TextAttention")
		l.q = t.linear(p+".self_attn.q_proj", c.Hidden, qDim, c.AttentionBias, false)
		l.k = t.linear(p+".self_attn.k_proj", c.Hidden, kvDim, c.AttentionBias, false)
		l.v = t.linear(p+".self_attn.v_proj", c.Hidden, kvDim, c.AttentionBias, false)
		l.o = t.linear(p+".self_attn.o_proj", qDim, c.Hidden, c.AttentionBias, false)
		if o.L2QKNorm && o.UseRope[i] {
			t.add(p+".self_attn.qk_norm", m.qkNorm)
		}
		f := p + ".feed_forward"
		if o.MoE[i] {
			t.container(f, "Llama4TextMoe")
			l.experts = buildLlama4Experts(t, f+".experts", c.NumExperts, c.Hidden, c.Intermediate)
			t.activation(f+".experts.act_fn", c.Act)
			l.router = t.linear(f+".router", c.Hidden, c.NumExperts, false, false)
			t.container(f+".shared_expert", "Llama4TextMLP")
			mlp(f+".shared_expert", c.Intermediate, &l)
		} else {
			t.container(f, "Llama4TextMLP")
			mlp(f, o.IntermediateMLP, &l)
		}
		l.inNorm = norm(p + ".input_layernorm")
		l.postNorm = norm(p + ".post_attention_layernorm")
		m.layers = append(m.layers, l)
	}
	m.norm = norm(pre + "model.norm")
	t.container(pre+"model.rotary_emb", "Llama4TextRotaryEmbedding")
	if c.TieWordEmbeddings {
		m.lmHead = t.tiedLinear(pre+"lm_head", c.Hidden, c.VocabSize, m.embed.Weight)
	} else {
		m.lmHead = t.linear(pre+"lm_head", c.Hidden, c.VocabSize, false, false)
	}
	return m, nil
}

func (m *llama4) outputLayer() string {
	if m.o.Composite {
		return "language_model.lm_head"
	}
	return "lm_head"
}

// chunkMasked is the additive bias of a key outside its query's chunk
// (chunkPlan's per-row layout). Finite, so that a row whose visible keys
// all lie elsewhere (only pad queries: a query's own key is in its chunk)
// stays finite on every device; exp of it underflows to exactly 0.
const chunkMasked = -1e30

func (m *llama4) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c, o := m.cfg, m.o
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("llama4 forward", err)
	}
	T, D := in.Seq, c.HeadDim
	past := 0
	if cache != nil {
		past = cache.n
	}
	x, pos, km, mask := rotaryInputs(g, m.embed, in, cache, c.Hidden)
	invFreq := floats(g, m.invFreq, len(m.invFreq))
	scale := float32(1 / math.Sqrt(float64(D)))
	var temp backend.Tensor
	var plan *chunkPlan
	planned := false
	for i, l := range m.layers {
		h := g.Norm(x, l.inNorm)
		qp, kp, vp := g.Linear(h, l.q), g.Linear(h, l.k), g.Linear(h, l.v)
		var q, k *nn.Value
		if o.UseRope[i] {
			// Complex rotation of pairs (2i, 2i+1): reordered to (i, i+D/2)
			// alike in queries and keys, which leaves q·k unchanged and the
			// L2 norm too.
			q = g.Rope(interleavedHeads(g, qp, c.Heads, D, D), invFreq, pos)
			k = g.Rope(interleavedHeads(g, kp, c.KVHeads, D, D), invFreq, pos)
			if o.L2QKNorm {
				q, k = g.Norm(q, m.qkNorm), g.Norm(k, m.qkNorm)
			}
		} else {
			if o.TempTuning {
				if temp == nil {
					temp = floats(g, m.temperature(past, T), T, c.Heads*D)
				}
				qp = g.Mul(qp, g.Constant(temp))
			}
			q, k = splitHeads(g, qp, c.Heads, D), splitHeads(g, kp, c.KVHeads, D)
		}
		v := splitHeads(g, vp, c.KVHeads, D)
		k, v = cached(g, cache, i, k, v)
		so := backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: km}
		var a *nn.Value
		if o.Chunked[i] {
			if !planned {
				plan, planned = m.chunkPlan(g, in, cache, mask, past), true
			}
			a = attendChunked(g, q, k, v, so, plan)
		} else {
			a = attend(g, q, k, v, so)
		}
		x, h = g.AddNorm(x, g.Linear(a, l.o), l.postNorm)
		var f *nn.Value
		if l.experts != nil {
			f = m.moe(g, h, l, act)
		} else {
			f = gatedMLP(g, h, l.gate, l.up, l.down, act)
		}
		x = g.Add(x, f)
	}
	logits := g.Linear(g.Norm(lastOnly(g, x, in), m.norm), m.lmHead)
	if cache != nil && g.Err() == nil {
		cache.commit(mask, in.Seq)
	}
	return logits
}

// temperature returns the NoPE layers' query scale for T new tokens after
// past cached ones, as [T, heads·head_dim] rows (one value per row):
// log1p(floor((p+1)/floor_scale))·attn_scale + 1 at cache position p, in
// float32 as torch computes it.
func (m *llama4) temperature(past, T int) []float32 {
	o := m.o
	w := m.cfg.Heads * m.cfg.HeadDim
	out := make([]float32, T*w)
	for t := 0; t < T; t++ {
		f := float32(math.Floor(float64((float32(past+t) + 1) / float32(o.FloorScale))))
		s := float32(math.Log1p(float64(f)))*float32(o.AttnScale) + 1
		for i := 0; i < w; i++ {
			out[t*w+i] = s
		}
	}
	return out
}

// chunkPlan is how the chunked layers of one forward pass restrict
// attention to each query's chunk. As transformers' chunked_overlay, query
// i and key j (cache positions) share a chunk when
// (j − lp) // C = (i − lp) // C, lp being the row's left padding (its
// leading masked keys). A nil plan means no visible key lies outside its
// query's chunk (full causal attention is the same).
type chunkPlan struct {
	// blocks, when every row has the same left padding: the queries of one
	// chunk attend to that chunk's keys only, a narrowed causal attention
	// per chunk (memory and work of the chunk, not of the whole sequence).
	blocks []chunkBlock
	// bias, when rows differ in left padding: an additive [B, H, T, Tk]
	// bias of chunkMasked outside each query's chunk.
	bias backend.Tensor
}

// chunkBlock is the queries [q0, q0+n) of one chunk (indices among the new
// tokens) and its keys [k0, k0+nk) (cache positions, up to the block's
// last query), with their key mask [B, nk].
type chunkBlock struct {
	q0, n, k0, nk int
	mask          backend.Tensor
}

// chunkPlan builds the forward pass's chunkPlan for T new tokens after
// past cached ones.
func (m *llama4) chunkPlan(g *nn.Graph, in *Inputs, cache *KVCache, mask []float32, past int) *chunkPlan {
	if g.Err() != nil {
		return nil
	}
	B, T, H, C := in.Batch, in.Seq, m.cfg.Heads, m.o.ChunkSize
	Tk := past + T
	keyMask := mask
	if cache != nil {
		keyMask = cache.keyMask(mask, T)
	}
	lp := make([]int, B)
	same := true
	for b := range lp {
		for _, v := range keyMask[b*Tk : (b+1)*Tk] {
			if v != 0 {
				break
			}
			lp[b]++
		}
		same = same && lp[b] == lp[0]
	}
	chunk := func(p, lp int) int { return floorDiv(p-lp, C) }
	if same {
		var blocks []chunkBlock
		for i := 0; i < T; {
			c := chunk(past+i, lp[0])
			n := 1
			for i+n < T && chunk(past+i+n, lp[0]) == c {
				n++
			}
			k0 := max(lp[0]+c*C, 0)
			blocks = append(blocks, chunkBlock{q0: i, n: n, k0: k0, nk: past + i + n - k0})
			i += n
		}
		if len(blocks) == 1 && blocks[0].k0 == 0 {
			return nil
		}
		for i, bl := range blocks {
			km := make([]float32, 0, B*bl.nk)
			for b := 0; b < B; b++ {
				km = append(km, keyMask[b*Tk+bl.k0:b*Tk+bl.k0+bl.nk]...)
			}
			blocks[i].mask = floats(g, km, B, bl.nk)
		}
		return &chunkPlan{blocks: blocks}
	}
	plane := make([]float32, B*T*Tk)
	masked := false
	for b := 0; b < B; b++ {
		for i := 0; i < T; i++ {
			qc := chunk(past+i, lp[b])
			for j := 0; j <= past+i; j++ {
				if chunk(j, lp[b]) != qc {
					plane[(b*T+i)*Tk+j] = chunkMasked
					masked = true
				}
			}
		}
	}
	if !masked {
		return nil
	}
	// The bias has a head axis; every head gets the row's plane.
	out := make([]float32, 0, B*H*T*Tk)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			out = append(out, plane[b*T*Tk:(b+1)*T*Tk]...)
		}
	}
	return &chunkPlan{bias: floats(g, out, B, H, T, Tk)}
}

// attendChunked is attention restricted by plan (nil: plain causal
// attention) for q [B, H, T, D] and k, v [B, Hkv, Tk, D], giving
// [B, T, H·D].
func attendChunked(g *nn.Graph, q, k, v *nn.Value, o backend.SoftmaxOptions, plan *chunkPlan) *nn.Value {
	switch {
	case plan == nil:
		return attend(g, q, k, v, o)
	case plan.bias != nil:
		o.Bias = plan.bias
		return attend(g, q, k, v, o)
	}
	outs := make([]*nn.Value, 0, len(plan.blocks))
	for _, bl := range plan.blocks {
		bo := o
		bo.KeyMask = bl.mask
		outs = append(outs, attend(g, g.Narrow(q, 2, bl.q0, bl.n), g.Narrow(k, 2, bl.k0, bl.nk), g.Narrow(v, 2, bl.k0, bl.nk), bo))
	}
	if len(outs) == 1 {
		return outs[0]
	}
	return g.Concat(1, outs...)
}

// floorDiv is Python's a // b for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// gatedMLP is Llama4TextMLP: down(act(gate(x)) ⊙ up(x)).
func gatedMLP(g *nn.Graph, x *nn.Value, gate, up, down *nn.Linear, act backend.Unary) *nn.Value {
	var gated *nn.Value
	if act == backend.SiLU {
		gated = g.SwiGLU(g.Linear(x, gate), g.Linear(x, up))
	} else {
		gated = g.Mul(g.Act(act, g.Linear(x, gate)), g.Linear(x, up))
	}
	return g.Linear(gated, down)
}

// moe runs Llama4TextMoe on h [B, T, hidden] without reading the device:
// the router's logits [N, E] choose each token's k experts by TopK
// (torch.topk of the logits, ties to the lower index), and the rest are
// graph ops on those on-device ids. The score of a chosen expert is the
// sigmoid of its logit (transformers' scatter into −inf then sigmoid gives
// the others exactly 0, and an expert fed a zero input gives exactly 0, so
// running only the chosen ones changes nothing); the routed input is
// x · score, multiplied before the experts as transformers does, by a
// batched [N, k, 1]·[N, 1, H] product. The experts run by ExpertLinear on
// the per-expert weights: gate and up, act(gate) ⊙ up, down; each token's
// k outputs are summed and the shared expert's output added. The
// gradient reaches x through the experts' inputs, the shared expert and
// the scores (the router).
func (m *llama4) moe(g *nn.Graph, h *nn.Value, l llama4Layer, act backend.Unary) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	c := m.cfg
	sh := h.Shape()
	H := c.Hidden
	n := h.T.Len() / H
	E, k := c.NumExperts, c.ExpertsPerToken
	x := g.Reshape(h, n, H)
	logits := g.Linear(x, l.router)
	ids := g.TopK(logits, k)
	if g.Err() != nil {
		return nil
	}
	chosen := g.ExpertLinear(logits, pickers(g, E), ids) // [N, k, 1]: logits[n, ids[n, j]]
	scores := g.Act(backend.Sigmoid, chosen)
	xin := g.MatMul(scores, g.Reshape(x, n, 1, H), backend.MatMulOptions{}) // [N, k, H]
	ex := l.experts
	gate, up := g.ExpertLinear(xin, ex.gate, ids), g.ExpertLinear(xin, ex.up, ids) // [N, k, I]
	var gated *nn.Value
	if act == backend.SiLU {
		gated = g.SwiGLU(gate, up)
	} else {
		gated = g.Mul(g.Act(act, gate), up)
	}
	routed := g.ExpertLinear(gated, ex.down, ids) // [N, k, H]
	if g.Err() != nil {
		return nil
	}
	if k > 1 {
		ones := make([]float32, n*k)
		for i := range ones {
			ones[i] = 1
		}
		routed = g.MatMul(g.Constant(floats(g, ones, n, 1, k)), routed, backend.MatMulOptions{})
	}
	out := g.Add(gatedMLP(g, x, l.gate, l.up, l.down, act), g.Reshape(routed, n, H))
	return g.Reshape(out, sh...)
}

// llama4SkippedTensor reports whether a checkpoint entry belongs to the
// parts of Llama4ForConditionalGeneration this package does not build
// (vision_model, multi_modal_projector); LoadWith skips them with one log
// line instead of refusing the checkpoint.
func (m *Model) llama4SkippedTensor(name string) bool {
	if m.cfg.Llama4 == nil {
		return false
	}
	return strings.HasPrefix(name, "vision_model.") || strings.HasPrefix(name, "multi_modal_projector.")
}

// logLlama4Skipped says, once per load, that the vision tower was not
// loaded.
func logLlama4Skipped(path string, n int) {
	slog.Info("Llama 4 checkpoint: only the language model is loaded; the vision tower and projector are not",
		"file", path, "skipped_tensors", n)
}

// llama4TextEOS returns text_config.eos_token_id of a composite llama4
// config.json, which has none at the top level: transformers' generation
// config takes it from the text config (get_text_config).
func llama4TextEOS(c *Config) (any, bool) {
	t, ok := c.Raw["text_config"].(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := t["eos_token_id"]
	return v, ok
}

// ffParams counts the feed-forward weights of every layer: a MoE layer's
// experts (E · 3 · hidden · I), shared expert (3 · hidden · I) and router
// (hidden · E), a dense layer's MLP (3 · hidden · intermediate_size_mlp).
func (o *Llama4Options) ffParams(c *Config) float64 {
	h, inter, e := float64(c.Hidden), float64(c.Intermediate), float64(c.NumExperts)
	n := 0.0
	for _, moe := range o.MoE {
		if moe {
			n += (e+1)*3*h*inter + h*e
		} else {
			n += 3 * h * float64(o.IntermediateMLP)
		}
	}
	return n
}

// ia3Params counts the (IA)³ vectors of PEFT's llama4 targets: q_proj's
// and v_proj's outputs and the input of the dense MLP's or the shared
// expert's down_proj in every layer.
func (o *Llama4Options) ia3Params(c *Config) float64 {
	qv := float64((c.Heads + c.KVHeads) * c.HeadDim)
	n := 0.0
	for _, moe := range o.MoE {
		n += qv + float64(c.Intermediate)
		if !moe {
			n += float64(o.IntermediateMLP - c.Intermediate)
		}
	}
	return n
}
