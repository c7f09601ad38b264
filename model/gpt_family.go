package model

import (
	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// This file holds helpers for GPT-style decoders (falcon.go uses them; the
// other GPT-style builds carry their own): the per-step bookkeeping of a
// causal forward pass and the splits of fused query/key/value projections.

// decoderStep is the state one causal forward pass shares across layers:
// batch and step sizes, the tokens already cached, the masks over the new
// tokens and over every key.
type decoderStep struct {
	g        *nn.Graph
	in       *Inputs
	cache    *KVCache
	B, T     int
	past     int
	mask     []float32      // [B·T], the new tokens
	keyMask  []float32      // [B·(past+T)], cached then new
	km       backend.Tensor // keyMask on the device, [B, past+T]
	keyCount int            // past + T
}

func newDecoderStep(g *nn.Graph, in *Inputs, cache *KVCache) *decoderStep {
	s := &decoderStep{g: g, in: in, cache: cache, B: in.Batch, T: in.Seq}
	if cache != nil {
		s.past = cache.n
	}
	s.mask = in.mask()
	s.keyMask = s.mask
	if cache != nil {
		s.keyMask = cache.keyMask(s.mask, s.T)
	}
	s.keyCount = s.past + s.T
	s.km = floats(g, s.keyMask, s.B, s.keyCount)
	return s
}

// finish records the new tokens in the cache once the pass succeeded and
// returns the logits.
func (s *decoderStep) finish(logits *nn.Value) *nn.Value {
	if s.cache != nil && s.g.Err() == nil {
		s.cache.commit(s.mask, s.T)
	}
	return logits
}

// embed looks the input ids up in e, giving [B, T, dim].
func (s *decoderStep) embed(e *nn.Embedding, dim int) *nn.Value {
	return s.g.Reshape(s.g.Embedding(e, ints(s.g, s.in.InputIDs, s.B*s.T)), s.B, s.T, dim)
}

// attention runs cached, masked causal attention of q [B, H, T, D] over k,
// v [B, Hkv, T, D] with the given scale, giving [B, T, H·D].
func (s *decoderStep) attention(layer int, q, k, v *nn.Value, scale float32) *nn.Value {
	k, v = cached(s.g, s.cache, layer, k, v)
	return attend(s.g, q, k, v, backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: s.km})
}

// rope returns the rotary tables of one pass: the inverse frequencies of
// dim rotated features and the positions [B, T].
func (s *decoderStep) rope(r RopeConfig, dim int) (invFreq, pos backend.Tensor) {
	f := ropeInvFreq(r, dim)
	return floats(s.g, f, len(f)), ints(s.g, positions(s.in, s.past), s.B, s.T)
}

// headsInterleaved splits a fused projection [B, T, H·3·D] whose heads
// each hold [q, k, v] (BLOOM, Falcon without multi-query; GPT-NeoX) into q,
// k, v [B, H, T, D].
func headsInterleaved(g *nn.Graph, qkv *nn.Value, heads, dim int) (q, k, v *nn.Value) {
	if g.Err() != nil {
		return nil, nil, nil
	}
	s := qkv.Shape()
	x := g.Reshape(qkv, s[0], s[1], heads, 3*dim)
	part := func(i int) *nn.Value { return g.Permute(g.Narrow(x, 3, i*dim, dim), 0, 2, 1, 3) }
	return part(0), part(1), part(2)
}

// headsStacked splits a fused projection [B, T, H·D + 2·Hkv·D] holding all
// queries, then all keys, then all values (multi-query Falcon and
// GPT-BigCode) into q [B, H, T, D] and k, v [B, Hkv, T, D].
func headsStacked(g *nn.Graph, qkv *nn.Value, heads, kvHeads, dim int) (q, k, v *nn.Value) {
	qd, kd := heads*dim, kvHeads*dim
	q = splitHeads(g, g.Narrow(qkv, 2, 0, qd), heads, dim)
	k = splitHeads(g, g.Narrow(qkv, 2, qd, kd), kvHeads, dim)
	v = splitHeads(g, g.Narrow(qkv, 2, qd+kd, kd), kvHeads, dim)
	return q, k, v
}

// headsGrouped splits Falcon's new-decoder-architecture projection
// [B, T, G·(r+2)·D], each of the G key/value groups holding its r queries,
// then its key, then its value, into q [B, G·r, T, D] and k, v
// [B, G, T, D] (query head h reads group h / r, as RepeatKV repeats).
func headsGrouped(g *nn.Graph, qkv *nn.Value, heads, groups, dim int) (q, k, v *nn.Value) {
	if g.Err() != nil {
		return nil, nil, nil
	}
	s := qkv.Shape()
	r := heads / groups
	x := g.Reshape(qkv, s[0]*s[1], groups, r+2, dim)
	q = g.Permute(g.Reshape(g.Narrow(x, 2, 0, r), s[0], s[1], heads, dim), 0, 2, 1, 3)
	k = g.Permute(g.Reshape(g.Narrow(x, 2, r, 1), s[0], s[1], groups, dim), 0, 2, 1, 3)
	v = g.Permute(g.Reshape(g.Narrow(x, 2, r+1, 1), s[0], s[1], groups, dim), 0, 2, 1, 3)
	return q, k, v
}
