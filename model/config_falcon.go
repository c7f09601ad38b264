package model

import (
	"fmt"
)

// FalconConfig holds the config.json fields of Falcon that the shared
// Config fields do not cover.
type FalconConfig struct {
	// ParallelResidual is parallel_attn: attention and MLP added to one
	// residual (the new decoder architecture always does).
	ParallelResidual bool
	// Bias is bias: biases on every projection.
	Bias bool
	// MultiQuery is multi_query without the new decoder architecture: one
	// key/value head.
	MultiQuery bool
	// NewDecoderArch is new_decoder_architecture: grouped heads
	// [q…, k, v] per key/value group and (with NumLNInParallel 2) separate
	// ln_attn and ln_mlp.
	NewDecoderArch  bool
	NumLNInParallel int
}

// headDimOf sets HeadDim = Hidden/Heads, refusing sizes that do not divide
// (as FalconAttention does).
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
	g := &c.Falcon
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
