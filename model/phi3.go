package model

import (
	"github.com/ia3/ia3/model/nn"
)

// buildPhi3Layer adds the modules of one Phi3DecoderLayer after its
// self_attn container, in Phi-3's order: o_proj before the fused
// qkv_proj, the MLP's gate_up_proj, down_proj and activation_fn, the two
// norms and the residual dropouts.
func buildPhi3Layer(c *Config, t *treeBuilder, p string, l *llamaLayer) {
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	l.o = t.linear(p+".self_attn.o_proj", qDim, c.Hidden, false, false)
	l.qkv = t.linear(p+".self_attn.qkv_proj", c.Hidden, qDim+2*kvDim, false, false)
	t.container(p+".mlp", "Phi3MLP")
	l.gateUp = t.linear(p+".mlp.gate_up_proj", c.Hidden, 2*c.Intermediate, false, false)
	l.down = t.linear(p+".mlp.down_proj", c.Intermediate, c.Hidden, false, false)
	t.activation(p+".mlp.activation_fn", c.Act)
	l.inNorm = t.rmsNorm(p+".input_layernorm", "Phi3RMSNorm", c.Hidden, c.NormEps)
	l.postNorm = t.rmsNorm(p+".post_attention_layernorm", "Phi3RMSNorm", c.Hidden, c.NormEps)
	t.dropout(p + ".resid_attn_dropout")
	t.dropout(p + ".resid_mlp_dropout")
}

// qkv returns the query, key and value projections of h [B, T, hidden]:
// three Linears, or slices of Phi-3's fused qkv_proj output (queries,
// then keys, then values, as Phi3Attention splits it).
func (m *llama) qkv(g *nn.Graph, h *nn.Value, l llamaLayer) (q, k, v *nn.Value) {
	if l.qkv == nil {
		return g.Linear(h, l.q), g.Linear(h, l.k), g.Linear(h, l.v)
	}
	c := m.cfg
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	y := g.Linear(h, l.qkv)
	return g.Narrow(y, 2, 0, qDim), g.Narrow(y, 2, qDim, kvDim), g.Narrow(y, 2, qDim+kvDim, kvDim)
}

// gateUp returns the MLP's gate and up projections of h: two Linears, or
// the halves of Phi-3's fused gate_up_proj output (gate first, as
// Phi3MLP's chunk(2) takes it).
func (m *llama) gateUp(g *nn.Graph, h *nn.Value, l llamaLayer) (gate, up *nn.Value) {
	if l.gateUp == nil {
		return g.Linear(h, l.gate), g.Linear(h, l.up)
	}
	y := g.Linear(h, l.gateUp)
	n := m.cfg.Intermediate
	return g.Narrow(y, 2, 0, n), g.Narrow(y, 2, n, n)
}
