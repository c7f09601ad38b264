package model

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// bert is BertModel / RobertaModel, optionally under a sequence
// classification head: BERT's pooler (dense + tanh on the first token)
// then classifier, or RoBERTa's RobertaClassificationHead (classifier.dense
// + tanh on <s>, then classifier.out_proj).
type bert struct {
	cfg     *Config
	roberta bool
	// words, positions and types are the three embedding tables.
	words, positions, types *nn.Embedding
	embNorm                 *nn.Norm
	layers                  []bertLayer
	pooler                  *nn.Linear // nil for RoBERTa classification
	// classifier is BERT's head, or RoBERTa's out_proj; clsDense is
	// RoBERTa's classifier.dense.
	classifier, clsDense *nn.Linear
}

type bertLayer struct {
	q, k, v, attnOut *nn.Linear
	attnNorm         *nn.Norm
	inter, out       *nn.Linear
	outNorm          *nn.Norm
}

func buildBERT(c *Config, t *treeBuilder) *bert {
	m := &bert{cfg: c, roberta: c.ModelType == "roberta"}
	cls, base := "Bert", "bert"
	if m.roberta {
		cls, base = "Roberta", "roberta"
	}
	head := c.TaskType == TaskSeqCls
	prefix := ""
	if head {
		t.container("", c.Architecture)
		prefix = base
	}
	t.container(prefix, cls+"Model")
	e := join(prefix, "embeddings")
	t.container(e, cls+"Embeddings")
	m.words = t.embedding(e+".word_embeddings", c.VocabSize, c.Hidden)
	m.positions = t.embedding(e+".position_embeddings", c.MaxPositions, c.Hidden)
	m.types = t.embedding(e+".token_type_embeddings", c.TypeVocabSize, c.Hidden)
	m.embNorm = t.layerNorm(e+".LayerNorm", c.Hidden, c.NormEps)
	t.dropout(e + ".dropout")
	enc := join(prefix, "encoder")
	t.container(enc, cls+"Encoder")
	t.container(enc+".layer", "ModuleList")
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("%s.layer.%d", enc, i)
		var l bertLayer
		t.container(p, cls+"Layer")
		t.container(p+".attention", cls+"Attention")
		t.container(p+".attention.self", cls+"SelfAttention")
		l.q = t.linear(p+".attention.self.query", c.Hidden, c.Hidden, true, false)
		l.k = t.linear(p+".attention.self.key", c.Hidden, c.Hidden, true, false)
		l.v = t.linear(p+".attention.self.value", c.Hidden, c.Hidden, true, false)
		t.dropout(p + ".attention.self.dropout")
		t.container(p+".attention.output", cls+"SelfOutput")
		l.attnOut = t.linear(p+".attention.output.dense", c.Hidden, c.Hidden, true, false)
		l.attnNorm = t.layerNorm(p+".attention.output.LayerNorm", c.Hidden, c.NormEps)
		t.dropout(p + ".attention.output.dropout")
		t.container(p+".intermediate", cls+"Intermediate")
		l.inter = t.linear(p+".intermediate.dense", c.Hidden, c.Intermediate, true, false)
		t.activation(p+".intermediate.intermediate_act_fn", c.Act)
		t.container(p+".output", cls+"Output")
		l.out = t.linear(p+".output.dense", c.Intermediate, c.Hidden, true, false)
		l.outNorm = t.layerNorm(p+".output.LayerNorm", c.Hidden, c.NormEps)
		t.dropout(p + ".output.dropout")
		m.layers = append(m.layers, l)
	}
	// RobertaForSequenceClassification builds its RobertaModel without
	// the pooling layer; every other variant has it.
	if !(m.roberta && head) {
		p := join(prefix, "pooler")
		t.container(p, cls+"Pooler")
		m.pooler = t.linear(p+".dense", c.Hidden, c.Hidden, true, false)
		t.activation(p+".activation", "tanh")
	}
	if !head {
		return m
	}
	if m.roberta {
		t.container("classifier", "RobertaClassificationHead")
		m.clsDense = t.linear("classifier.dense", c.Hidden, c.Hidden, true, false)
		t.dropout("classifier.dropout")
		m.classifier = t.linear("classifier.out_proj", c.Hidden, c.NumLabels, true, false)
	} else {
		t.dropout("dropout")
		m.classifier = t.linear("classifier", c.Hidden, c.NumLabels, true, false)
	}
	return m
}

// outputLayer is the classification head PEFT's "all-linear" leaves out
// ("classifier"), or "" for a bare encoder.
func (m *bert) outputLayer() string {
	if m.classifier == nil {
		return ""
	}
	return "classifier"
}

// positionIDs returns BERT's 0…T−1, or RoBERTa's padding-aware positions:
// padding_idx + the running count of non-pad tokens, and padding_idx on
// pad tokens (create_position_ids_from_input_ids).
func (m *bert) positionIDs(in *Inputs) []int32 {
	if in.PositionIDs != nil || !m.roberta {
		return positions(in, 0)
	}
	pad := int32(m.cfg.PadTokenID)
	out := make([]int32, len(in.InputIDs))
	for b := 0; b < in.Batch; b++ {
		var count int32
		for t := 0; t < in.Seq; t++ {
			i := b*in.Seq + t
			out[i] = pad
			if in.InputIDs[i] != pad {
				count++
				out[i] = pad + count
			}
		}
	}
	return out
}

func (m *bert) forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value {
	c := m.cfg
	if cache != nil {
		return g.Fail("bert forward", fmt.Errorf("%s is an encoder: no KV cache", c.Architecture))
	}
	act, err := activation(c.Act)
	if err != nil {
		return g.Fail("bert forward", err)
	}
	B, T := in.Batch, in.Seq
	pos := m.positionIDs(in)
	for i, p := range pos {
		if int(p) >= c.MaxPositions {
			return g.Fail("bert forward", fmt.Errorf("position %d of token %d is past max_position_embeddings %d", p, i, c.MaxPositions))
		}
	}
	types := in.TokenTypeIDs
	if types == nil {
		types = make([]int32, B*T)
	}
	x := g.Add(g.Embedding(m.words, ints(g, in.InputIDs, B*T)), g.Embedding(m.types, ints(g, types, B*T)))
	x = g.Add(x, g.Embedding(m.positions, ints(g, pos, B*T)))
	x = g.Norm(g.Reshape(x, B, T, c.Hidden), m.embNorm)
	km := floats(g, in.mask(), B, T)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for _, l := range m.layers {
		q := splitHeads(g, g.Linear(x, l.q), c.Heads, c.HeadDim)
		k := splitHeads(g, g.Linear(x, l.k), c.Heads, c.HeadDim)
		v := splitHeads(g, g.Linear(x, l.v), c.Heads, c.HeadDim)
		a := attend(g, q, k, v, backend.SoftmaxOptions{Scale: scale, KeyMask: km})
		x = g.Norm(g.Add(g.Linear(a, l.attnOut), x), l.attnNorm)
		h := g.Linear(g.Act(act, g.Linear(x, l.inter)), l.out)
		x = g.Norm(g.Add(h, x), l.outNorm)
	}
	if m.classifier == nil {
		return x
	}
	first := firstTokens(g, x)
	if m.roberta {
		return g.Linear(g.Act(backend.Tanh, g.Linear(first, m.clsDense)), m.classifier)
	}
	pooled := g.Act(backend.Tanh, g.Linear(first, m.pooler))
	return g.Linear(pooled, m.classifier)
}
