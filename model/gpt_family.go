package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// This file holds what the GPT-style decoders (opt.go,
// bloom.go, falcon.go, gpt_bigcode.go, gptj.go, gpt_neo.go) share: the
// per-step bookkeeping of a causal forward pass, the splits of fused
// query/key/value projections, ALiBi and local-attention biases, and
// learned-position lookups.

// buildGPTFamily builds the architecture of a GPT-style model type.
func buildGPTFamily(c *Config, t *treeBuilder) architecture {
	switch c.ModelType {
	case "bloom":
		return buildBloom(c, t)
	case "falcon":
		return buildFalcon(c, t)
	case "gpt_bigcode":
		return buildBigCode(c, t)
	}
	return nil
}

// lmHead adds the output head "lm_head" from in features to the
// vocabulary: tied to embed's table when the config ties them (its bias,
// with bias set, still its own), a new Linear otherwise.
func lmHead(c *Config, t *treeBuilder, in int, embed *nn.Embedding, bias bool) *nn.Linear {
	if !c.TieWordEmbeddings {
		return t.linear("lm_head", in, c.VocabSize, bias, false)
	}
	l := t.tiedLinear("lm_head", in, c.VocabSize, embed.Weight)
	if bias {
		l.Bias = t.param("lm_head.bias", c.VocabSize)
	}
	return l
}

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

// learnedPositions looks positions (+ offset) up in a position table of
// rows entries, giving [B, T, dim]; a position outside the table is an
// error naming the token.
func (s *decoderStep) learnedPositions(e *nn.Embedding, pos []int32, offset, rows, dim int) *nn.Value {
	ids := make([]int32, len(pos))
	for i, p := range pos {
		q := int(p) + offset
		if q < 0 || q >= rows {
			return s.g.Fail("position embedding", fmt.Errorf("position %d of token %d is outside the %d learned positions", p, i, rows-offset))
		}
		ids[i] = int32(q)
	}
	return s.g.Reshape(s.g.Embedding(e, ints(s.g, ids, s.B*s.T)), s.B, s.T, dim)
}

// attention runs cached, masked causal attention of q [B, H, T, D] over k,
// v [B, Hkv, T, D] with the given scale and additive bias (nil: none),
// giving [B, T, H·D].
func (s *decoderStep) attention(layer int, q, k, v *nn.Value, scale float32, bias backend.Tensor) *nn.Value {
	k, v = cached(s.g, s.cache, layer, k, v)
	return attend(s.g, q, k, v, backend.SoftmaxOptions{Scale: scale, Causal: true, KeyMask: s.km, Bias: bias})
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

// alibiSlopes returns BLOOM's per-head ALiBi slopes as build_alibi_tensor
// computes them (float32): for the largest power of two p ≤ heads, base^i
// for i = 1…p with base = 2^(−2^−(log2 p − 3)); the remaining heads take
// the odd powers 1, 3, … of the base for 2p.
func alibiSlopes(heads int) []float32 {
	p := 1
	for p*2 <= heads {
		p *= 2
	}
	pow := func(base float32, e int) float32 { return float32(math.Pow(float64(base), float64(e))) }
	base := float32(math.Pow(2, -math.Pow(2, -(math.Log2(float64(p))-3))))
	out := make([]float32, 0, heads)
	for i := 1; i <= p; i++ {
		out = append(out, pow(base, i))
	}
	if p != heads {
		extra := float32(math.Pow(2, -math.Pow(2, -(math.Log2(float64(2*p))-3))))
		rest := min(p, heads-p)
		for i := 1; i < 2*rest; i += 2 {
			out = append(out, pow(extra, i))
		}
	}
	return out
}

// alibiBias returns the ALiBi bias [B, H, T, past+T]: for key j of row b,
// slope_h · ((cumsum(mask_b) − 1) · mask_b)_j, the same for every query, as
// BLOOM adds it to the scaled scores.
func (s *decoderStep) alibiBias(slopes []float32) backend.Tensor {
	if s.g.Err() != nil {
		return nil
	}
	H, Tk := len(slopes), s.keyCount
	out := make([]float32, s.B*H*s.T*Tk)
	pos := make([]float32, Tk)
	for b := 0; b < s.B; b++ {
		var sum float32
		for j := 0; j < Tk; j++ {
			m := s.keyMask[b*Tk+j]
			sum += m
			pos[j] = (sum - 1) * m
		}
		for h, sl := range slopes {
			for i := 0; i < s.T; i++ {
				row := out[((b*H+h)*s.T+i)*Tk:][:Tk]
				for j := range row {
					row[j] = sl * pos[j]
				}
			}
		}
	}
	return floats(s.g, out, s.B, H, s.T, Tk)
}

// localMask is the additive mask of a local-attention layer: query i (at
// absolute position past+i) sees key j only when past+i − j < window;
// other keys get a large negative bias. Shape [H, T, past+T].
func (s *decoderStep) localMask(heads, window int) backend.Tensor {
	if s.g.Err() != nil {
		return nil
	}
	Tk := s.keyCount
	one := make([]float32, s.T*Tk)
	for i := 0; i < s.T; i++ {
		for j := 0; j < Tk; j++ {
			if s.past+i-j >= window {
				one[i*Tk+j] = maskedScore
			}
		}
	}
	out := make([]float32, 0, heads*len(one))
	for h := 0; h < heads; h++ {
		out = append(out, one...)
	}
	return floats(s.g, out, heads, s.T, Tk)
}

// maskedScore is the bias that removes a key from a softmax: its
// exponential underflows to 0 yet adding it to any score stays finite.
const maskedScore = -1e30

// everyTwoToHalf reorders the first rot features of each head of x
// [B, H, T, D] from interleaved pairs (x0, x1), (x2, x3), … (GPT-J's
// rotate_every_two) to halves (x0, x2, …, x1, x3, …), so that Rope's
// rotate_half rotates the same pairs by the same angles. Applied to both
// queries and keys it leaves every q·k unchanged.
func everyTwoToHalf(g *nn.Graph, x *nn.Value, rot int) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	s := x.Shape()
	n := s[0] * s[1] * s[2]
	r := g.Narrow(x, 3, 0, rot)
	r = g.Reshape(g.Permute(g.Reshape(r, n, rot/2, 2), 0, 2, 1), s[0], s[1], s[2], rot)
	if rot == s[3] {
		return r
	}
	return g.Concat(3, r, g.Narrow(x, 3, rot, s[3]-rot))
}
