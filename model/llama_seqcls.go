package model

import (
	"errors"

	"github.com/ia3/ia3/model/nn"
)

// seqClsArch names each decoder type's sequence classification class in
// transformers: the base model, then a bias-free Linear "score" on the
// last non-padding token. The Llama family's (and Phi's) are
// GenericForSequenceClassification; the GPT family's classes
// (GPT2ForSequenceClassification, …) each write the same head and pooling.
var seqClsArch = map[string]string{"llama": "LlamaForSequenceClassification",
	"mistral": "MistralForSequenceClassification", "qwen2": "Qwen2ForSequenceClassification",
	"qwen3": "Qwen3ForSequenceClassification", "gemma": "GemmaForSequenceClassification",
	"gemma2": "Gemma2ForSequenceClassification", "gemma3_text": "Gemma3TextForSequenceClassification",
	"phi3": "Phi3ForSequenceClassification", "mixtral": "MixtralForSequenceClassification",
	"gpt2": "GPT2ForSequenceClassification", "gpt_neox": "GPTNeoXForSequenceClassification",
	"gptj": "GPTJForSequenceClassification", "gpt_neo": "GPTNeoForSequenceClassification",
	"bloom": "BloomForSequenceClassification", "opt": "OPTForSequenceClassification",
	"falcon": "FalconForSequenceClassification", "gpt_bigcode": "GPTBigCodeForSequenceClassification",
	"phi": "PhiForSequenceClassification"}

// seqClsPadDefault is the pad_token_id of the config classes whose default
// is not None, used when config.json leaves the key out (save_pretrained
// omits values equal to the class default). Gemma's 0 is set by
// parseGemma, OPT's 1 by parseOPT.
var seqClsPadDefault = map[string]int{"phi3": 32000}

// parseDecoderLabels reads a decoder sequence classifier's labels and its
// class's pad_token_id default (the pooling looks for it).
func parseDecoderLabels(p *cfgParser, c *Config) {
	if c.TaskType != TaskSeqCls {
		return
	}
	parseLabels(p, c, 2)
	if set, null := p.present("pad_token_id"); !set && !null {
		if d, ok := seqClsPadDefault[c.ModelType]; ok {
			c.PadTokenID = d
		}
	}
}

// lastTokens returns, for each row, the flat index b·T + t of the
// rightmost token that is not pad_token_id (position 0 when every token
// is), which GenericForSequenceClassification pools: it looks at the ids,
// not at the attention mask, so left and right padding both work. With no
// pad token a batch of one pools the last position and larger batches are
// refused, as transformers refuses them.
func lastTokens(in *Inputs, pad int) ([]int32, error) {
	B, T := in.Batch, in.Seq
	out := make([]int32, B)
	if pad < 0 {
		if B != 1 {
			return nil, errors.New("cannot handle batch sizes > 1 if no padding token is defined (set pad_token_id in config.json)")
		}
		out[0] = int32(T - 1)
		return out, nil
	}
	for b := 0; b < B; b++ {
		for t := T - 1; t >= 0; t-- {
			if int(in.InputIDs[b*T+t]) != pad {
				out[b] = int32(b*T + t)
				break
			}
			out[b] = int32(b * T)
		}
	}
	return out, nil
}

// classify pools the final hidden states h [B, T, hidden] (already normed)
// at each row's last non-padding token and applies the score head,
// giving [B, num_labels].
func (m *llama) classify(g *nn.Graph, h *nn.Value, in *Inputs) *nn.Value {
	return g.Linear(poolLast(g, h, in, m.cfg.PadTokenID, m.cfg.Hidden), m.score)
}

// poolLast gathers the hidden states h [B, T, width] at each row's last
// non-padding token (lastTokens), giving [B, width].
func poolLast(g *nn.Graph, h *nn.Value, in *Inputs, pad, width int) *nn.Value {
	idx, err := lastTokens(in, pad)
	if err != nil {
		return g.Fail("sequence classification", err)
	}
	flat := g.Reshape(h, in.Batch*in.Seq, width)
	return g.Gather(flat, ints(g, idx, in.Batch))
}

// headTokens returns what a decoder's output head reads from its last
// hidden states x [B, T, width]: for a sequence classifier, each row's
// last non-padding token [B, width] (the final norm and projections act
// per token, so pooling first changes nothing but the work); otherwise x,
// or only its last position when in.LastOnly asks for it.
func headTokens(g *nn.Graph, x *nn.Value, in *Inputs, c *Config, width int) *nn.Value {
	if c.TaskType == TaskSeqCls {
		return poolLast(g, x, in, c.PadTokenID, width)
	}
	return lastOnly(g, x, in)
}

// decoderHead adds a decoder's output head: the sequence classification
// head "score", a bias-free Linear [num_labels, width], when c is a
// …ForSequenceClassification (it replaces the LM head, as in
// transformers), else the LM head lm builds.
func decoderHead(c *Config, t *treeBuilder, width int, lm func() *nn.Linear) *nn.Linear {
	if c.TaskType == TaskSeqCls {
		return t.linear("score", width, c.NumLabels, false, false)
	}
	return lm()
}

// headName is the module name of a decoder's output head: "score" for a
// sequence classifier, else lm, the LM head's name.
func headName(c *Config, lm string) string {
	if c.TaskType == TaskSeqCls {
		return "score"
	}
	return lm
}
