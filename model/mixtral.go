package model

import (
	"fmt"
	"math"
	"slices"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// moeBlock is Mixtral's MixtralSparseMoeBlock: a router (gate) scoring
// every expert for each token, and experts of SwiGLU MLPs
// w2(silu(w1 x) ⊙ w3 x), of which each token runs its top k.
type moeBlock struct {
	gate    *nn.Linear
	experts []moeExpert
	topK    int
}

// moeExpert is one MixtralBlockSparseTop2MLP.
type moeExpert struct{ w1, w2, w3 *nn.Linear }

// parseMixtral reads MixtralConfig: Mistral's attention (an optional
// sliding window on every layer, null by default) and num_local_experts
// experts of which num_experts_per_tok run per token. The router's jitter
// noise (training only) is refused: its randomness cannot be reproduced.
func parseMixtral(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 32000, hidden: 4096, inter: 14336, layers: 32, heads: 32, maxPos: 4096 * 32, eps: 1e-5})
	c.KVHeads = p.optInt("num_key_value_heads", 8)
	c.Act = p.str("hidden_act", "silu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	c.SlidingWindow = p.window(0)
	c.LayerTypes = p.layerTypes(c.Layers, func(int) bool { return c.SlidingWindow > 0 })
	c.Rope = parseRopeTheta(p, 1e6)
	c.NumExperts = p.int("num_local_experts", 8)
	c.ExpertsPerToken = p.int("num_experts_per_tok", 2)
	if c.NumExperts < 1 || c.NumExperts > MaxExperts {
		p.fail("num_local_experts", fmt.Sprintf("want an integer in [1, %d], got %d", MaxExperts, c.NumExperts))
	}
	if c.ExpertsPerToken < 1 || c.ExpertsPerToken > c.NumExperts {
		p.fail("num_experts_per_tok", fmt.Sprintf("want an integer in [1, num_local_experts %d], got %d", c.NumExperts, c.ExpertsPerToken))
	}
	if j := p.float("router_jitter_noise", 0); j != 0 {
		p.fail("router_jitter_noise", fmt.Sprintf("router jitter (%g) is random noise in training and is not supported; set it to 0", j))
	}
}

// MaxExperts bounds num_local_experts, so that a hostile config cannot
// ask for millions of modules.
const MaxExperts = 1024

// buildMoE adds layer p's block_sparse_moe after its attention, with the
// per-expert Linear modules of transformers 4 (experts.N.w1/w2/w3), the
// names PEFT's IA3 default target w2 matches.
func buildMoE(c *Config, t *treeBuilder, p string) *moeBlock {
	p += ".block_sparse_moe"
	t.container(p, "MixtralSparseMoeBlock")
	m := &moeBlock{topK: c.ExpertsPerToken}
	m.gate = t.linear(p+".gate", c.Hidden, c.NumExperts, false, false)
	t.container(p+".experts", "ModuleList")
	for e := 0; e < c.NumExperts; e++ {
		q := fmt.Sprintf("%s.experts.%d", p, e)
		t.container(q, "MixtralBlockSparseTop2MLP")
		var x moeExpert
		x.w1 = t.linear(q+".w1", c.Hidden, c.Intermediate, false, false)
		x.w2 = t.linear(q+".w2", c.Intermediate, c.Hidden, false, false)
		x.w3 = t.linear(q+".w3", c.Hidden, c.Intermediate, false, false)
		t.activation(q+".act_fn", c.Act)
		m.experts = append(m.experts, x)
	}
	return m
}

// route picks each token's experts from the router logits [N, E] as
// MixtralSparseMoeBlock does: the k largest (torch.topk of the softmax,
// whose order the logits share), ties going to the lower expert index. A
// row holding a NaN has an all-NaN softmax, all tied: its first k experts.
// It returns the picks token-major, sel[n·k+j].
func route(logits []float32, n, e, k int) []int {
	sel := make([]int, 0, n*k)
	for i := 0; i < n; i++ {
		row := logits[i*e : (i+1)*e]
		if slices.ContainsFunc(row, func(v float32) bool { return math.IsNaN(float64(v)) }) {
			for j := 0; j < k; j++ {
				sel = append(sel, j)
			}
			continue
		}
		taken := make([]bool, e)
		for j := 0; j < k; j++ {
			best := -1
			for x, v := range row {
				// Among equals the first stays.
				if !taken[x] && (best < 0 || v > row[best]) {
					best = x
				}
			}
			taken[best] = true
			sel = append(sel, best)
		}
	}
	return sel
}

// forward runs the sparse MoE on h [B, T, hidden]. The router runs on the
// device; its logits come to the host only to choose the experts, a
// choice with no gradient. Everything else stays differentiable graph
// ops: the routing weights are the softmax over the chosen logits (equal
// to transformers' softmax over all experts renormalised over the top k),
// each expert gathers its tokens' rows, and a batched product of the
// weights [N, 1, k] with the outputs regathered token-major [N, k, hidden]
// adds each token's k expert outputs.
//
// A batch that mixes adapters (g.Adapters) scales each Linear's rows by
// the adapter of the sample they belong to, counted as equal blocks of the
// batch's rows; an expert then runs on every token (dense, E/k times the
// work) so that its rows stay the batch's, and only the chosen rows are
// kept.
func (m *moeBlock) forward(g *nn.Graph, h *nn.Value, act backend.Unary) *nn.Value {
	const op = "mixtral moe"
	if g.Err() != nil {
		return nil
	}
	sh := h.Shape()
	hidden := sh[len(sh)-1]
	n := h.T.Len() / hidden
	e, k := len(m.experts), m.topK
	x := g.Reshape(h, n, hidden)
	logits := g.Linear(x, m.gate)
	if g.Err() != nil {
		return nil
	}
	host, err := g.B.ToFloat32(logits.T)
	if err != nil {
		return g.Fail(op, fmt.Errorf("router logits: %w", err))
	}
	sel := route(host, n, e, k)
	// The chosen logits, token-major, normalised per token.
	pick := make([]int32, n*k)
	for i, x := range sel {
		pick[i] = int32((i/k)*e + x)
	}
	chosen := g.Gather(g.Reshape(logits, n*e, 1), ints(g, pick, n*k))
	weights := g.Reshape(g.Softmax(g.Reshape(chosen, 1, 1, n, k), backend.SoftmaxOptions{}), n, 1, k)
	// Each expert's tokens in token order; pos maps slot n·k+j to its row
	// in the expert-major concatenation of the outputs.
	pos := make([]int32, n*k)
	var outs []*nn.Value
	row := 0
	dense := g.Adapters != nil
	for ei, ex := range m.experts {
		var rows []int32
		for i, s := range sel {
			if s != ei {
				continue
			}
			rows = append(rows, int32(i/k))
			if dense {
				pos[i] = int32(row + i/k)
			} else {
				pos[i] = int32(row + len(rows) - 1)
			}
		}
		if len(rows) == 0 {
			continue
		}
		xe := x
		if dense {
			row += n
		} else {
			row += len(rows)
			xe = g.Gather(x, ints(g, rows, len(rows)))
		}
		var gated *nn.Value
		if act == backend.SiLU {
			gated = g.SwiGLU(g.Linear(xe, ex.w1), g.Linear(xe, ex.w3))
		} else {
			gated = g.Mul(g.Act(act, g.Linear(xe, ex.w1)), g.Linear(xe, ex.w3))
		}
		outs = append(outs, g.Linear(gated, ex.w2))
	}
	all := outs[0]
	if len(outs) > 1 {
		all = g.Concat(0, outs...)
	}
	y := g.Reshape(g.Gather(all, ints(g, pos, n*k)), n, k, hidden)
	return g.Reshape(g.MatMul(weights, y, backend.MatMulOptions{}), sh...)
}
