package model

import (
	"fmt"
)

// GPTFamilyConfig holds the config.json fields of the GPT-style decoders
// built in this package's falcon.go and gpt_bigcode.go that the
// shared Config fields do not cover. Each field says which families read
// it.
type GPTFamilyConfig struct {
	// ParallelResidual adds attention and MLP to one residual: falcon
	// parallel_attn (the new decoder architecture always does).
	ParallelResidual bool
	// Bias puts biases on every projection (falcon bias).
	Bias bool
	// MultiQuery shares one key/value head (falcon multi_query without the
	// new decoder architecture, gpt_bigcode multi_query).
	MultiQuery bool
	// NewDecoderArch is falcon's new_decoder_architecture: grouped heads
	// [q…, k, v] per key/value group and (with NumLNInParallel 2) separate
	// ln_attn and ln_mlp.
	NewDecoderArch  bool
	NumLNInParallel int
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
