package model

import (
	"fmt"
	"math"
)

// GPTFamilyConfig holds the config.json fields of the GPT-style decoders
// (opt, bloom, falcon, gpt_bigcode, gptj, gpt_neo) that the
// shared Config fields do not cover. Each field says which families read it.
type GPTFamilyConfig struct {
	// RotaryDim is the number of rotated features per head: gptj
	// rotary_dim, falcon head_dim.
	RotaryDim int
	// ParallelResidual adds attention and MLP to one residual: falcon
	// parallel_attn (and the new decoder architecture), always for gptj.
	ParallelResidual bool
	// Bias puts biases on the projections: falcon bias, opt enable_bias.
	Bias bool
	// MultiQuery shares one key/value head (falcon multi_query without the
	// new decoder architecture, gpt_bigcode multi_query).
	MultiQuery bool
	// NewDecoderArch is falcon's new_decoder_architecture: grouped heads
	// [q…, k, v] per key/value group and (with NumLNInParallel 2) separate
	// ln_attn and ln_mlp.
	NewDecoderArch  bool
	NumLNInParallel int
	// WordEmbedProjDim is opt's word_embed_proj_dim: embeddings and the
	// head live in this size, project_in/out map to hidden_size.
	WordEmbedProjDim int
	// LayerNormBefore is opt's do_layer_norm_before (pre-LN blocks and a
	// final_layer_norm); false is OPT-350m's post-LN.
	LayerNormBefore bool
	// ResidualPostLN is bloom's apply_residual_connection_post_layernorm.
	ResidualPostLN bool
	// LocalLayers marks gpt_neo's "local" attention layers, which see
	// only the WindowSize most recent tokens.
	LocalLayers []bool
	WindowSize  int
}

// isGPTFamily reports whether t is one of the GPT-style types of this file.
func isGPTFamily(t string) bool {
	switch t {
	case "opt", "bloom", "falcon", "gpt_bigcode", "gptj", "gpt_neo":
		return true
	}
	return false
}

// headDimOf sets HeadDim = Hidden/Heads, refusing sizes that do not divide
// (every GPT-style family requires it).
func headDimOf(p *cfgParser, c *Config, key string) {
	if c.Heads <= 0 {
		return
	}
	if c.Hidden%c.Heads != 0 {
		p.fail(key, fmt.Sprintf("hidden size %d is not a multiple of the %d attention heads", c.Hidden, c.Heads))
		return
	}
	c.HeadDim = c.Hidden / c.Heads
}

func parseOPT(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50272)
	c.Hidden = p.int("hidden_size", 768)
	c.Layers = p.int("num_hidden_layers", 12)
	c.Heads = p.int("num_attention_heads", 12)
	c.KVHeads = c.Heads
	c.Intermediate = p.int("ffn_dim", 3072)
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.NormEps = 1e-5 // torch LayerNorm's default: OPT passes none
	c.Act = p.str("activation_function", "relu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	headDimOf(p, c, "hidden_size")
	c.GPT.Bias = p.bool("enable_bias", true)
	c.GPT.LayerNormBefore = p.bool("do_layer_norm_before", true)
	c.GPT.WordEmbedProjDim = p.optInt("word_embed_proj_dim", c.Hidden)
	if !p.bool("layer_norm_elementwise_affine", true) {
		p.fail("layer_norm_elementwise_affine", "layer norms without weights are not supported")
	}
	if p.bool("_remove_final_layer_norm", false) {
		p.fail("_remove_final_layer_norm", "is not supported")
	}
	if c.GPT.WordEmbedProjDim <= 0 || c.GPT.WordEmbedProjDim > MaxDimension {
		p.fail("word_embed_proj_dim", fmt.Sprintf("must be in [1, %d], got %d", MaxDimension, c.GPT.WordEmbedProjDim))
	}
}

func parseBloom(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 250880)
	c.Hidden = p.int("hidden_size", 64)
	if _, ok := p.raw["n_embed"]; ok { // BloomConfig's older spelling wins, as in transformers
		c.Hidden = p.int("n_embed", 64)
	}
	c.Layers = p.int("n_layer", 2)
	c.Heads = p.int("n_head", 8)
	c.KVHeads = c.Heads
	c.Intermediate = 4 * c.Hidden
	c.MaxPositions = 1 << 20 // ALiBi: no position table
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = "gelu_pytorch_tanh" // BloomGelu is the tanh approximation
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	headDimOf(p, c, "hidden_size")
	c.GPT.ResidualPostLN = p.bool("apply_residual_connection_post_layernorm", false)
}

func parseFalcon(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 65024)
	c.Hidden = p.int("hidden_size", 4544)
	c.Layers = p.int("num_hidden_layers", 32)
	c.Heads = p.int("num_attention_heads", 71)
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation", "gelu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	headDimOf(p, c, "hidden_size")
	c.Intermediate = p.optInt("ffn_hidden_size", 4*c.Hidden)
	g := &c.GPT
	g.Bias = p.bool("bias", false)
	g.MultiQuery = p.bool("multi_query", true)
	g.NewDecoderArch = p.bool("new_decoder_architecture", false)
	g.ParallelResidual = p.bool("parallel_attn", true)
	kv := p.optInt("num_kv_heads", c.Heads)
	switch {
	case g.NewDecoderArch:
		c.KVHeads = kv
		g.MultiQuery = false
		g.NumLNInParallel = p.optInt("num_ln_in_parallel_attn", 2)
	case g.MultiQuery:
		c.KVHeads = 1
	default:
		c.KVHeads = kv
		if kv != c.Heads {
			p.fail("num_kv_heads", fmt.Sprintf("must equal num_attention_heads %d without multi_query or new_decoder_architecture, got %d", c.Heads, kv))
		}
	}
	if p.bool("alibi", false) {
		p.fail("alibi", "Falcon with ALiBi is not supported (only the rotary path)")
	}
	c.Rope = parseRope(p)
	c.GPT.RotaryDim = c.HeadDim
}

func parseBigCode(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50257)
	c.Hidden = p.int("n_embd", 768)
	c.Layers = p.int("n_layer", 12)
	c.Heads = p.int("n_head", 12)
	c.MaxPositions = p.int("n_positions", 1024)
	c.Intermediate = p.optInt("n_inner", 4*c.Hidden)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation_function", "gelu_pytorch_tanh")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.ScaleAttnWeights = p.bool("scale_attn_weights", true)
	headDimOf(p, c, "n_embd")
	c.GPT.MultiQuery = p.bool("multi_query", true)
	c.KVHeads = c.Heads
	if c.GPT.MultiQuery {
		c.KVHeads = 1
	}
}

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
	headDimOf(p, c, "n_embd")
	c.GPT.ParallelResidual = true
	c.GPT.RotaryDim = p.optInt("rotary_dim", c.HeadDim)
	if c.GPT.RotaryDim <= 0 || c.GPT.RotaryDim > c.HeadDim || c.GPT.RotaryDim%2 != 0 {
		p.fail("rotary_dim", fmt.Sprintf("must be even and in [2, head_dim %d], got %d", c.HeadDim, c.GPT.RotaryDim))
	}
	c.Rope = RopeConfig{Theta: 10000, Type: "default", Factor: 1}
}

func parseGPTNeo(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50257)
	c.Hidden = p.int("hidden_size", 2048)
	c.Layers = p.int("num_layers", 24)
	c.Heads = p.int("num_heads", 16)
	c.KVHeads = c.Heads
	c.MaxPositions = p.int("max_position_embeddings", 2048)
	c.Intermediate = p.optInt("intermediate_size", 4*c.Hidden)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation_function", "gelu_new")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	headDimOf(p, c, "hidden_size")
	c.GPT.WindowSize = p.int("window_size", 256)
	if c.GPT.WindowSize <= 0 {
		p.fail("window_size", fmt.Sprintf("must be positive, got %d", c.GPT.WindowSize))
	}
	types, err := gptNeoLayerTypes(p.raw["attention_types"])
	if err != nil {
		p.fail("attention_types", err.Error())
		return
	}
	if types == nil { // GPTNeoConfig's default [[["global", "local"], 12]]
		types = make([]string, 0, 24)
		for i := 0; i < 12; i++ {
			types = append(types, "global", "local")
		}
	}
	if len(types) != c.Layers && p.err == nil {
		p.fail("attention_types", fmt.Sprintf("describe %d layers, num_layers is %d", len(types), c.Layers))
		return
	}
	c.GPT.LocalLayers = make([]bool, len(types))
	for i, t := range types {
		c.GPT.LocalLayers[i] = t == "local"
	}
}

// gptNeoLayerTypes expands GPT-Neo's attention_types, a list of
// [[type, …], repeat] pairs, as GPTNeoConfig.expand_attention_types_params
// does; nil when the field is absent.
func gptNeoLayerTypes(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of [[types], repeat] pairs, got %v", v)
	}
	var out []string
	for _, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("want [[types], repeat], got %v", e)
		}
		kinds, ok := pair[0].([]any)
		n, okN := pair[1].(float64)
		if !ok || !okN || n < 0 || n != math.Trunc(n) || n > MaxDimension {
			return nil, fmt.Errorf("want [[types], repeat], got %v", e)
		}
		for r := 0; r < int(n); r++ {
			for _, k := range kinds {
				s, ok := k.(string)
				if !ok || (s != "global" && s != "local") {
					return nil, fmt.Errorf("attention type %v is not \"global\" or \"local\"", k)
				}
				out = append(out, s)
			}
			if len(out) > MaxDimension {
				return nil, fmt.Errorf("more than %d layers", MaxDimension)
			}
		}
	}
	return out, nil
}
