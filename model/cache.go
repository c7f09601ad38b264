package model

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
)

// KVCache holds the attention keys and values of the tokens a decoder has
// already processed, so that generation feeds only new tokens to
// ForwardCached. It serves causal LMs (GPT-2, the Llama family) and the T5
// decoder, whose cross-attention keys and values and encoder mask it also
// keeps after the first call.
//
// A cache belongs to one model and one batch; it is not safe for
// concurrent use. After ForwardCached fails the cache is inconsistent and
// must be freed.
type KVCache struct {
	b     backend.Backend
	batch int
	// n is the number of tokens cached per sequence.
	n int
	// mask holds the attention mask of the cached tokens, [batch][n].
	mask [][]float32
	// self holds each layer's keys and values [B, Hkv, n, D].
	self []kvPair
	// T5 only: encoder-side keys/values per decoder layer, the encoder's
	// key mask [B, Tenc] and its length.
	cross   []kvPair
	encMask backend.Tensor
	encSeq  int
}

type kvPair struct{ k, v backend.Tensor }

// NewCache returns an empty cache for a batch of the given size. Only
// causal LMs and T5 support caching.
func (m *Model) NewCache(batch int) (*KVCache, error) {
	if m.b == nil {
		return nil, errors.New("model.NewCache: structure-only model has no backend")
	}
	if m.cfg.TaskType != TaskCausalLM && m.cfg.TaskType != TaskSeq2SeqLM {
		return nil, fmt.Errorf("model.NewCache: %s (%s) has no decoder to cache", m.cfg.Architecture, m.cfg.TaskType)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("model.NewCache: batch %d must be positive", batch)
	}
	layers := m.cfg.Layers
	if m.cfg.TaskType == TaskSeq2SeqLM {
		layers = m.cfg.DecoderLayers
	}
	return &KVCache{b: m.b, batch: batch, mask: make([][]float32, batch),
		self: make([]kvPair, layers), cross: make([]kvPair, layers)}, nil
}

// Len returns the number of tokens cached per sequence.
func (c *KVCache) Len() int { return c.n }

// Free releases the cached tensors; the cache is empty afterwards.
func (c *KVCache) Free() {
	for _, ps := range [][]kvPair{c.self, c.cross} {
		for i := range ps {
			c.b.Free(ps[i].k)
			c.b.Free(ps[i].v)
			ps[i] = kvPair{}
		}
	}
	if c.encMask != nil {
		c.b.Free(c.encMask)
		c.encMask = nil
	}
	for i := range c.mask {
		c.mask[i] = nil
	}
	c.n, c.encSeq = 0, 0
}

// appendKV adds this step's keys and values [B, H, T, D] of one layer and
// returns the whole cached sequence [B, H, n+T, D], owned by the cache.
func (c *KVCache) appendKV(layer int, k, v backend.Tensor) (backend.Tensor, backend.Tensor, error) {
	if layer >= len(c.self) {
		return nil, nil, fmt.Errorf("kv cache: layer %d of %d", layer, len(c.self))
	}
	p := &c.self[layer]
	grow := func(old, add backend.Tensor) (backend.Tensor, error) {
		if old == nil {
			return c.b.Copy(add)
		}
		t, err := c.b.Concat(2, old, add)
		if err != nil {
			return nil, err
		}
		c.b.Free(old)
		return t, nil
	}
	nk, err := grow(p.k, k)
	if err != nil {
		return nil, nil, fmt.Errorf("kv cache: layer %d keys: %w", layer, err)
	}
	p.k = nk
	nv, err := grow(p.v, v)
	if err != nil {
		return nil, nil, fmt.Errorf("kv cache: layer %d values: %w", layer, err)
	}
	p.v = nv
	return p.k, p.v, nil
}

// keyMask returns the mask over cached plus new keys, [B, n+T] row-major,
// without recording the new tokens (commit does).
func (c *KVCache) keyMask(newMask []float32, t int) []float32 {
	out := make([]float32, 0, c.batch*(c.n+t))
	for b := 0; b < c.batch; b++ {
		out = append(out, c.mask[b]...)
		out = append(out, newMask[b*t:(b+1)*t]...)
	}
	return out
}

// commit records t new tokens with their mask once every layer has
// appended its keys and values.
func (c *KVCache) commit(newMask []float32, t int) {
	for b := 0; b < c.batch; b++ {
		c.mask[b] = append(c.mask[b], newMask[b*t:(b+1)*t]...)
	}
	c.n += t
}

// NextPositions returns, per row, the position id of the next token as
// transformers' generate counts it: the number of unmasked tokens cached.
func (c *KVCache) NextPositions() []int32 {
	out := make([]int32, c.batch)
	for b, m := range c.mask {
		for _, v := range m {
			if v != 0 {
				out[b]++
			}
		}
	}
	return out
}
