package model

import (
	"fmt"
	"math"
)

// Layer attention types, spelled as transformers' config.layer_types.
const (
	FullAttention    = "full_attention"
	SlidingAttention = "sliding_attention"
)

// LayerWindow returns the sliding window of layer i (0: full attention).
func (c *Config) LayerWindow(i int) int {
	if c.SlidingWindow <= 0 || i < 0 || i >= len(c.LayerTypes) || c.LayerTypes[i] != SlidingAttention {
		return 0
	}
	return c.SlidingWindow
}

// present reports whether key is in the config with a non-null value, and
// whether it is there at all (a null sliding_window turns the window off,
// a missing one takes the family's default).
func (p *cfgParser) present(key string) (set, null bool) {
	v, ok := p.raw[key]
	return ok && v != nil, ok && v == nil
}

// window reads sliding_window: def when missing, 0 when null.
func (p *cfgParser) window(def int) int {
	set, null := p.present("sliding_window")
	switch {
	case null:
		return 0
	case !set:
		return def
	}
	w := p.int("sliding_window", def)
	if w < 0 || w > MaxDimension {
		p.fail("sliding_window", fmt.Sprintf("want null or an integer in [0, %d], got %d", MaxDimension, w))
	}
	return w
}

// nullableFloat reads a float that null turns off (0) and a missing key
// gives def: Gemma 2's soft-capping values.
func (p *cfgParser) nullableFloat(key string, def float64) float64 {
	set, null := p.present(key)
	switch {
	case null:
		return 0
	case !set:
		return def
	}
	return p.float(key, def)
}

// layerTypes reads config.layer_types, or builds the default with
// sliding(i) when the file has none.
func (p *cfgParser) layerTypes(n int, sliding func(i int) bool) []string {
	if l := p.strings("layer_types"); l != nil {
		return l
	}
	out := make([]string, max(n, 0))
	for i := range out {
		out[i] = FullAttention
		if sliding(i) {
			out[i] = SlidingAttention
		}
	}
	return out
}

// decoderDefaults are a Llama-family config class's defaults for the
// size fields; headDim 0 means hidden_size / num_attention_heads.
type decoderDefaults struct {
	vocab, hidden, inter, layers, heads, headDim, maxPos int
	eps                                                  float64
}

// decoderSizes reads the size fields every Llama-family config.json
// shares, under transformers' names, with the class's defaults.
func (p *cfgParser) decoderSizes(c *Config, d decoderDefaults) {
	c.VocabSize = p.int("vocab_size", d.vocab)
	c.Hidden = p.int("hidden_size", d.hidden)
	c.Intermediate = p.int("intermediate_size", d.inter)
	c.Layers = p.int("num_hidden_layers", d.layers)
	c.Heads = p.int("num_attention_heads", d.heads)
	c.KVHeads = p.optInt("num_key_value_heads", c.Heads)
	c.MaxPositions = p.int("max_position_embeddings", d.maxPos)
	c.NormEps = p.float("rms_norm_eps", d.eps)
	switch {
	case d.headDim > 0:
		c.HeadDim = p.optInt("head_dim", d.headDim)
	case c.Heads > 0:
		c.HeadDim = p.optInt("head_dim", c.Hidden/c.Heads)
	}
}

// parseMistralWindow reads Mistral's sliding_window (4096 when missing,
// null for none), which every layer uses.
func parseMistralWindow(p *cfgParser, c *Config) {
	c.SlidingWindow = p.window(4096)
	c.LayerTypes = p.layerTypes(c.Layers, func(int) bool { return c.SlidingWindow > 0 })
}

// parseQwenWindow reads Qwen2's and Qwen3's use_sliding_window,
// sliding_window and max_window_layers as their configs do: without
// use_sliding_window there is no window; with it, layers from
// max_window_layers on slide (unless layer_types says otherwise).
func parseQwenWindow(p *cfgParser, c *Config) {
	c.SlidingWindow = p.window(4096)
	if !p.bool("use_sliding_window", false) {
		c.SlidingWindow = 0
	}
	first := p.int("max_window_layers", 28)
	c.LayerTypes = p.layerTypes(c.Layers, func(i int) bool { return c.SlidingWindow > 0 && i >= first })
}

// parsePhi3 reads Phi3Config: the Llama layout with fused qkv_proj and
// gate_up_proj, partial rotary embeddings (Phi-4-mini) and an optional
// sliding window on every layer (Phi-3-mini-4k's 2047).
func parsePhi3(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 32064, hidden: 3072, inter: 8192, layers: 32, heads: 32, maxPos: 4096, eps: 1e-5})
	c.Act = p.str("hidden_act", "silu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	c.FusedProjections = true
	c.SlidingWindow = p.window(0)
	c.LayerTypes = p.layerTypes(c.Layers, func(int) bool { return c.SlidingWindow > 0 })
	c.Rope = parseRope(p)
	c.RotaryDim = p.rotaryDim(c.HeadDim, 1)
}

// parsePhi reads PhiConfig (Phi-1, Phi-1.5, Phi-2): LayerNorm
// (layer_norm_eps), gelu_new, partial rotary embeddings (half the head by
// default) and optional q/k LayerNorms (qk_layernorm).
func parsePhi(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 51200, hidden: 2048, inter: 8192, layers: 24, heads: 32, maxPos: 2048})
	c.NormEps = p.float("layer_norm_eps", 1e-5)
	c.Act = p.str("hidden_act", "gelu_new")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	c.QKNorm = p.bool("qk_layernorm", false)
	c.Rope = parseRope(p)
	c.RotaryDim = p.rotaryDim(c.HeadDim, 0.5)
}

// parseGPTNeoX reads GPTNeoXConfig: transformers 5 keeps rope_theta and
// partial_rotary_factor in rope_parameters, transformers 4 wrote
// rotary_emb_base and rotary_pct.
func parseGPTNeoX(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 50432, hidden: 6144, inter: 24576, layers: 44, heads: 64, maxPos: 2048})
	c.NormEps = p.float("layer_norm_eps", 1e-5)
	c.Act = p.str("hidden_act", "gelu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	c.ParallelResidual = p.bool("use_parallel_residual", true)
	c.AttentionBias = p.bool("attention_bias", true)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.Rope = parseRopeTheta(p, p.float("rotary_emb_base", 10000))
	c.RotaryDim = p.rotaryDim(c.HeadDim, p.float("rotary_pct", 0.25))
}

// parseOPT reads OPTConfig (facebook/opt-*): ffn_dim, word_embed_proj_dim,
// do_layer_norm_before, enable_bias, activation_function. LayerNorms
// without weights (layer_norm_elementwise_affine false) are refused.
func parseOPT(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50272)
	c.Hidden = p.int("hidden_size", 768)
	c.Layers = p.int("num_hidden_layers", 12)
	c.Heads = p.int("num_attention_heads", 12)
	c.KVHeads = c.Heads
	c.Intermediate = p.int("ffn_dim", 3072)
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.WordEmbedDim = p.optInt("word_embed_proj_dim", c.Hidden)
	c.NormBefore = p.bool("do_layer_norm_before", true)
	c.RemoveFinalNorm = p.bool("_remove_final_layer_norm", false)
	c.AttentionBias = p.bool("enable_bias", true)
	c.Act = p.str("activation_function", "relu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.NormEps = 1e-5 // nn.LayerNorm's default; OPTConfig has no epsilon
	if !p.bool("layer_norm_elementwise_affine", true) {
		p.fail("layer_norm_elementwise_affine", "LayerNorms without weight and bias are not supported")
	}
	// OPTConfig's pad_token_id is 1; an explicit null is None.
	if set, null := p.present("pad_token_id"); !set && !null {
		c.PadTokenID = 1
	}
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
}

// parseGPTJ reads GPTJConfig (EleutherAI/gpt-j-6b): GPT-2's key names,
// rotary_dim (the whole head when null) and a 10000 rotary base.
func parseGPTJ(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50400)
	c.Hidden = p.int("n_embd", 4096)
	c.Layers = p.int("n_layer", 28)
	c.Heads = p.int("n_head", 16)
	c.KVHeads = c.Heads
	c.MaxPositions = p.int("n_positions", 2048)
	c.Intermediate = p.optInt("n_inner", 4*c.Hidden)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation_function", "gelu_new")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.RotaryDim = p.optInt("rotary_dim", c.HeadDim)
	c.Rope = RopeConfig{Theta: 10000, Type: "default", Factor: 1}
}

// parseGPTNeo reads GPTNeoConfig: num_layers, num_heads, attention_types
// ([[["global", "local"], 12]]: a pattern and its repeat count, expanded
// into one type per layer; "local" layers slide a window of window_size).
func parseGPTNeo(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50257)
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.Hidden = p.int("hidden_size", 2048)
	c.Layers = p.int("num_layers", 24)
	c.Heads = p.int("num_heads", 16)
	c.KVHeads = c.Heads
	c.Intermediate = p.optInt("intermediate_size", 4*c.Hidden)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation_function", "gelu_new")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.SlidingWindow = p.int("window_size", 256)
	if c.SlidingWindow <= 0 || c.SlidingWindow > MaxDimension {
		p.fail("window_size", fmt.Sprintf("want an integer in [1, %d], got %d", MaxDimension, c.SlidingWindow))
	}
	c.LayerTypes = p.gptNeoAttentionTypes(c.Layers)
}

// gptNeoAttentionTypes expands attention_types into one entry per layer:
// "global" is full attention, "local" sliding. It stops one past layers
// entries (or MaxDimension), so that a hostile repeat count allocates
// nothing large; validateLayerTypes then reports the mismatch (counting
// stops at num_layers + 1).
func (p *cfgParser) gptNeoAttentionTypes(layers int) []string {
	limit := min(max(layers, 0), MaxDimension) + 1
	v, ok := p.raw["attention_types"]
	if !ok || v == nil {
		v = []any{[]any{[]any{"global", "local"}, 12.0}}
	}
	bad := func() []string {
		p.fail("attention_types", fmt.Sprintf(`want a list of [["global" or "local", …], repeat], got %v`, v))
		return nil
	}
	groups, ok := v.([]any)
	if !ok {
		return bad()
	}
	var out []string
	for _, grp := range groups {
		pair, ok := grp.([]any)
		if !ok || len(pair) != 2 {
			return bad()
		}
		kinds, ok1 := pair[0].([]any)
		n, ok2 := pair[1].(float64)
		if !ok1 || !ok2 || n < 0 || n > MaxDimension || n != math.Trunc(n) {
			return bad()
		}
		for range int(n) {
			if len(out) >= limit {
				return out
			}
			for _, k := range kinds {
				switch k {
				case "global":
					out = append(out, FullAttention)
				case "local":
					out = append(out, SlidingAttention)
				default:
					return bad()
				}
			}
		}
	}
	return out
}

// parseBloom reads BloomConfig (bigscience/bloom*): hidden_size (n_embed
// in old files), n_layer, n_head, a 4·hidden MLP, tanh GELU and ALiBi.
// pretraining_tp with slow_but_exact, which splits the products, is
// refused.
func parseBloom(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 250880)
	c.Hidden = p.int("hidden_size", p.int("n_embed", 64))
	c.Layers = p.int("n_layer", 2)
	c.Heads = p.int("n_head", 8)
	c.KVHeads = c.Heads
	c.Intermediate = 4 * c.Hidden
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = "gelu_pytorch_tanh"
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.ResidualAfterNorm = p.bool("apply_residual_connection_post_layernorm", false)
	if p.bool("slow_but_exact", false) && p.int("pretraining_tp", 1) > 1 {
		p.fail("slow_but_exact", "slow_but_exact with pretraining_tp > 1 is not supported")
	}
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
}

// parseGPTBigCode reads GPTBigCodeConfig (SantaCoder, StarCoder): GPT-2's
// key names, multi_query (one shared key/value head) and torch Linears.
func parseGPTBigCode(p *cfgParser, c *Config) {
	parseGPT2(p, c)
	c.Act = p.str("activation_function", "gelu_pytorch_tanh")
	if p.bool("multi_query", true) {
		c.KVHeads = 1
	}
}

// parseMT5 reads MT5Config: T5 v1.1's layout (gated GELU, untied head)
// under MT5's defaults for the keys a file leaves out.
func parseMT5(p *cfgParser, c *Config) {
	merged := map[string]any{"vocab_size": 250112.0, "d_ff": 1024.0, "num_layers": 8.0, "num_heads": 6.0,
		"feed_forward_proj": "gated-gelu", "tie_word_embeddings": false}
	for k, v := range p.raw {
		if v != nil {
			merged[k] = v
		}
	}
	sub := &cfgParser{raw: merged, prefix: p.prefix}
	parseT5(sub, c)
	if sub.err != nil && p.err == nil {
		p.err = sub.err
	}
}

// parseFalcon reads FalconConfig (tiiuae/falcon-*): multi_query,
// num_kv_heads, new_decoder_architecture, parallel_attn,
// num_ln_in_parallel_attn, bias, ffn_hidden_size and rotary embeddings.
// ALiBi Falcons (alibi: true) are refused.
func parseFalcon(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 65024)
	c.Hidden = p.int("hidden_size", 4544)
	c.Layers = p.int("num_hidden_layers", 32)
	c.Heads = p.int("num_attention_heads", 71)
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation", "gelu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.AttentionBias = p.bool("bias", false)
	c.NewDecoderArch = p.bool("new_decoder_architecture", false)
	c.ParallelResidual = p.bool("parallel_attn", true)
	c.Intermediate = p.optInt("ffn_hidden_size", 4*c.Hidden)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.KVHeads = c.Heads
	switch {
	case c.NewDecoderArch:
		c.KVHeads = p.optInt("num_kv_heads", c.Heads)
	case p.bool("multi_query", true):
		c.KVHeads = 1
	default:
		// FalconAttention lays the keys out per head here and reshapes
		// them to num_kv_heads heads, which fails unless they are equal.
		if kv := p.optInt("num_kv_heads", c.Heads); kv != c.Heads {
			p.fail("num_kv_heads", fmt.Sprintf("must equal num_attention_heads %d without multi_query or new_decoder_architecture, got %d", c.Heads, kv))
		}
	}
	c.ParallelNorms = p.optInt("num_ln_in_parallel_attn", 1)
	if c.NewDecoderArch {
		c.ParallelNorms = p.optInt("num_ln_in_parallel_attn", 2)
	}
	if c.ParallelNorms != 1 && c.ParallelNorms != 2 {
		p.fail("num_ln_in_parallel_attn", fmt.Sprintf("want 1 or 2, got %d", c.ParallelNorms))
	}
	if c.ParallelNorms == 2 && !c.NewDecoderArch {
		c.ParallelNorms = 1 // transformers reads it only with new_decoder_architecture
	}
	if p.bool("alibi", false) {
		p.fail("alibi", "Falcon with ALiBi is not supported")
	}
	c.Rope = parseRope(p)
}

// rotaryDim reads partial_rotary_factor (top level, or in
// rope_parameters as transformers 5 writes it; def when missing) and
// returns the rotated features per head, int(head_dim · factor) as
// transformers computes it.
func (p *cfgParser) rotaryDim(headDim int, def float64) int {
	if params, ok := p.raw["rope_parameters"].(map[string]any); ok {
		sub := &cfgParser{raw: params, prefix: "rope_parameters."}
		def = sub.float("partial_rotary_factor", def)
		if sub.err != nil && p.err == nil {
			p.err = sub.err
		}
	}
	factor := p.float("partial_rotary_factor", def)
	if !(factor > 0 && factor <= 1) {
		p.fail("partial_rotary_factor", fmt.Sprintf("want a number in (0, 1], got %g", factor))
		factor = 1
	}
	return int(float64(headDim) * factor)
}

// parseGemma reads GemmaConfig, Gemma2Config and Gemma3TextConfig: the
// Llama layout with Gemma's norms, embedding scale, GeGLU MLP and head_dim,
// plus Gemma 2's sandwich norms, soft-capping and alternating sliding
// layers, and Gemma 3's q/k norms and local rotary base.
func parseGemma(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 256000, hidden: 3072, inter: 24576, layers: 28, heads: 16, headDim: 256,
		maxPos: 8192, eps: 1e-6})
	// transformers 5's GemmaMLP is LlamaMLP and reads hidden_act; Gemma 2's
	// and Gemma 3's MLPs read hidden_activation.
	if c.ModelType == "gemma" {
		c.Act = p.str("hidden_act", "gelu_pytorch_tanh")
	} else {
		c.Act = p.str("hidden_activation", "gelu_pytorch_tanh")
	}
	if p.bool("use_bidirectional_attention", false) {
		p.fail("use_bidirectional_attention", "bidirectional (non-causal) Gemma attention is not supported")
	}
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.AttentionBias = p.bool("attention_bias", false)
	c.GemmaNorm, c.EmbedScale = true, true
	if c.PadTokenID < 0 {
		c.PadTokenID = 0
	}
	switch c.ModelType {
	case "gemma":
		c.Rope = parseRope(p)
		c.LayerTypes = p.layerTypes(c.Layers, func(int) bool { return false })
	case "gemma2":
		c.SandwichNorms = true
		c.QueryPreAttnScalar = p.float("query_pre_attn_scalar", 256)
		c.AttnSoftcap = p.nullableFloat("attn_logit_softcapping", 50)
		c.FinalSoftcap = p.nullableFloat("final_logit_softcapping", 30)
		c.SlidingWindow = p.window(4096)
		c.LayerTypes = p.layerTypes(c.Layers, func(i int) bool { return (i+1)%2 != 0 })
		c.Rope = parseRope(p)
	case "gemma3_text":
		c.SandwichNorms, c.QKNorm = true, true
		c.QueryPreAttnScalar = p.float("query_pre_attn_scalar", 256)
		c.AttnSoftcap = p.nullableFloat("attn_logit_softcapping", 0)
		c.FinalSoftcap = p.nullableFloat("final_logit_softcapping", 0)
		c.SlidingWindow = p.window(4096)
		pattern := p.int("sliding_window_pattern", p.int("_sliding_window_pattern", 6))
		if pattern <= 0 {
			p.fail("sliding_window_pattern", fmt.Sprintf("want a positive integer, got %d", pattern))
			pattern = 1
		}
		c.LayerTypes = p.layerTypes(c.Layers, func(i int) bool { return (i+1)%pattern != 0 })
		parseGemma3Rope(p, c)
	}
}

// parseGemma3Rope reads Gemma 3's two rotary embeddings: transformers 5's
// rope_parameters keyed by layer type, or rope_theta/rope_scaling for full
// attention and rope_local_base_freq (no scaling) for sliding layers.
func parseGemma3Rope(p *cfgParser, c *Config) {
	global := p.float("rope_theta", 1e6)
	local := p.float("rope_local_base_freq", 10000)
	params, _ := p.raw["rope_parameters"].(map[string]any)
	full, okFull := params[FullAttention].(map[string]any)
	slide, okSlide := params[SlidingAttention].(map[string]any)
	if !okFull && !okSlide {
		c.Rope = parseRopeTheta(p, global)
		c.LocalRope = &RopeConfig{Theta: local, Type: "default", Factor: 1}
		return
	}
	one := func(m map[string]any, key string, theta float64) RopeConfig {
		if m == nil {
			return RopeConfig{Theta: theta, Type: "default", Factor: 1}
		}
		sub := &cfgParser{raw: m, prefix: "rope_parameters." + key + "."}
		r := parseRopeParams(sub, theta, true)
		if sub.err != nil && p.err == nil {
			p.err = sub.err
		}
		return r
	}
	c.Rope = one(full, FullAttention, global)
	lr := one(slide, SlidingAttention, local)
	c.LocalRope = &lr
}

// validateLayerTypes checks layer_types against the layer count and the
// values transformers knows, and the Gemma 2 scalars.
func (c *Config) validateLayerTypes() error {
	if c.LayerTypes == nil {
		return nil
	}
	if len(c.LayerTypes) != c.Layers {
		if c.ModelType == "gpt_neo" {
			return fmt.Errorf("attention_types expands to %d layers, num_layers is %d", len(c.LayerTypes), c.Layers)
		}
		return fmt.Errorf("layer_types has %d entries for %d layers", len(c.LayerTypes), c.Layers)
	}
	for i, t := range c.LayerTypes {
		if t != FullAttention && t != SlidingAttention {
			return fmt.Errorf("layer_types[%d] = %q is not supported (%s or %s)", i, t, FullAttention, SlidingAttention)
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"query_pre_attn_scalar", c.QueryPreAttnScalar}, {"attn_logit_softcapping", c.AttnSoftcap},
		{"final_logit_softcapping", c.FinalSoftcap}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s must be a finite number ≥ 0, got %g", f.key, f.v)
		}
	}
	if c.LocalRope != nil {
		if r := c.LocalRope; math.IsNaN(r.Theta) || math.IsInf(r.Theta, 0) || r.Theta <= 0 ||
			math.IsNaN(r.Factor) || math.IsInf(r.Factor, 0) || r.Factor < 0 {
			return fmt.Errorf("local rope theta %g / factor %g must be finite and positive", r.Theta, r.Factor)
		}
	}
	return nil
}

// PositionLimit is the longest sequence the model's learned position table
// covers (GPT-2, OPT, GPT-Neo, GPTBigCode, BERT, RoBERTa), or 0 where
// positions are computed (rotary, ALiBi, T5's relative buckets) and only
// memory bounds a sequence. A server or generator refuses a prompt plus
// new tokens past it rather than failing inside the forward pass.
func (c *Config) PositionLimit() int {
	switch c.ModelType {
	case "gpt2", "opt", "gpt_neo", "gpt_bigcode", "bert", "roberta":
		return c.MaxPositions
	}
	return 0
}
