package model

import (
	"fmt"

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

// forward runs the sparse MoE on h [B, T, hidden] without reading the
// device: the router's logits [N, E] choose each token's k experts by
// TopK (ties to the lower index; arch_moe_test.go states the rule on the host as route), and everything after is graph
// ops on those on-device ids. The routing weights are the softmax over the
// chosen logits (equal to transformers' softmax over all experts
// renormalised over the top k), picked from the logits by a product with
// one-hot rows (pick); a batched product of the weights [N, 1, k] with the
// expert outputs [N, k, hidden] adds each token's k outputs.
//
// The experts run by ExpertLinear on the per-expert Linears themselves
// (nothing is stacked or cached, so merging an adapter into a weight
// needs no rebuild), each slot scaled by its own expert's (IA)³ vectors.
// A batch that mixes adapters (g.Adapters), or experts whose weights are
// trainable (modules_to_save), run densely instead (denseExperts).
func (m *moeBlock) forward(g *nn.Graph, h *nn.Value, act backend.Unary) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	sh := h.Shape()
	hidden := sh[len(sh)-1]
	n := h.T.Len() / hidden
	e, k := len(m.experts), m.topK
	x := g.Reshape(h, n, hidden)
	logits := g.Linear(x, m.gate)
	ids := g.TopK(logits, k)
	onehot := pickers(g, e)
	chosen := g.ExpertLinear(logits, onehot, ids) // [N, k, 1]: logits[n, ids[n, j]]
	weights := g.Reshape(g.Softmax(g.Reshape(chosen, 1, 1, n, k), backend.SoftmaxOptions{}), n, 1, k)
	if g.Err() != nil {
		return nil
	}
	var y *nn.Value
	if g.Adapters != nil || m.trainableExperts() {
		y = m.denseExperts(g, x, weights, ids, onehot, act)
	} else {
		y = m.sparseExperts(g, x, weights, ids, act)
	}
	return g.Reshape(y, sh...)
}

// sparseExperts runs each token's k experts only: three ExpertLinears over
// the experts' w1, w3 and w2, then the weighted sum [N, 1, k]·[N, k, H].
func (m *moeBlock) sparseExperts(g *nn.Graph, x, weights *nn.Value, ids backend.Tensor, act backend.Unary) *nn.Value {
	w1, w2, w3 := make([]*nn.Linear, len(m.experts)), make([]*nn.Linear, len(m.experts)), make([]*nn.Linear, len(m.experts))
	for i, ex := range m.experts {
		w1[i], w2[i], w3[i] = ex.w1, ex.w2, ex.w3
	}
	gate, up := g.ExpertLinear(x, w1, ids), g.ExpertLinear(x, w3, ids) // [N, k, I]
	var gated *nn.Value
	if act == backend.SiLU {
		gated = g.SwiGLU(gate, up)
	} else {
		gated = g.Mul(g.Act(act, gate), up)
	}
	return g.MatMul(weights, g.ExpertLinear(gated, w2, ids), backend.MatMulOptions{})
}

// denseExperts runs every expert on every token, as g.Linear, so that a
// batch mixing adapters scales each row by its own sample's vectors and a
// trainable expert weight gets its gradient; E/k times the expert work.
// The weights become dense [N, 1, E] (zero for experts not chosen: the
// one-hot rows of the chosen experts, weighted) and multiply the outputs
// stacked [N, E, H].
func (m *moeBlock) denseExperts(g *nn.Graph, x, weights *nn.Value, ids backend.Tensor, onehot []*nn.Linear, act backend.Unary) *nn.Value {
	const op = "mixtral moe"
	n, k := ids.Shape()[0], ids.Shape()[1]
	ones := make([]float32, n*k)
	for i := range ones {
		ones[i] = 1
	}
	ot, err := g.B.FromFloat32(ones, n, k, 1)
	if err != nil {
		return g.Fail(op, err)
	}
	g.Own(ot)
	ws := make([]backend.Tensor, len(onehot))
	for i, l := range onehot {
		ws[i] = l.Weight.T
	}
	// rows[n, j] = one-hot(ids[n, j]) [E]: the backward product of ones.
	rows, err := g.B.ExpertLinear(ot, ws, ids, backend.ExpertOptions{Backward: true})
	if err != nil {
		return g.Fail(op, fmt.Errorf("one-hot rows: %w", err))
	}
	dense := g.MatMul(weights, g.Input(rows), backend.MatMulOptions{}) // [N, 1, E]
	outs := make([]*nn.Value, len(m.experts))
	for i, ex := range m.experts {
		var gated *nn.Value
		if act == backend.SiLU {
			gated = g.SwiGLU(g.Linear(x, ex.w1), g.Linear(x, ex.w3))
		} else {
			gated = g.Mul(g.Act(act, g.Linear(x, ex.w1)), g.Linear(x, ex.w3))
		}
		outs[i] = g.Linear(gated, ex.w2)
	}
	all := outs[0]
	if len(outs) > 1 {
		all = g.Concat(0, outs...)
	}
	hidden := x.Shape()[1]
	stacked := g.Permute(g.Reshape(all, len(outs), n, hidden), 1, 0, 2) // [N, E, H]
	return g.MatMul(dense, stacked, backend.MatMulOptions{})
}

// trainableExperts reports whether an expert's weight or bias is trainable
// (a modules_to_save on the experts), which ExpertLinear does not
// differentiate.
func (m *moeBlock) trainableExperts() bool {
	for _, ex := range m.experts {
		for _, l := range []*nn.Linear{ex.w1, ex.w2, ex.w3} {
			if l.Weight != nil && l.Weight.Trainable {
				return true
			}
		}
	}
	return false
}

// pickers returns e frozen one-hot "layers" [1, e], row i of the identity
// for expert i: ExpertLinear over them picks logits[n, ids[n, j]], and its
// backward puts each slot's gradient back at its logit, a gather along the
// expert axis without turning ids into flat indices on the device.
func pickers(g *nn.Graph, e int) []*nn.Linear {
	ls := make([]*nn.Linear, e)
	for i := range ls {
		row := make([]float32, e)
		row[i] = 1
		t, err := g.B.FromFloat32(row, 1, e)
		if err != nil {
			g.Fail("mixtral moe", fmt.Errorf("one-hot row %d: %w", i, err))
			return nil
		}
		ls[i] = &nn.Linear{Weight: &nn.Param{Name: fmt.Sprintf("router one-hot %d", i), T: g.Own(t)}}
	}
	return ls
}
