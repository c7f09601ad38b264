package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/tokenizer"
)

// Task types, as model.Config.TaskType names them.
const (
	taskCausal  = model.TaskCausalLM
	taskSeq2Seq = model.TaskSeq2SeqLM
	taskSeqCls  = model.TaskSeqCls
)

// encoder is the part of a tokenizer the data pipeline uses.
type encoder interface {
	// encode returns the ids of text, with the special tokens the
	// tokenizer adds when special is set, and how many trailing ids are
	// such special tokens (kept when truncating).
	encode(text string, special bool) (ids []int32, trailing int, err error)
	// eos returns the end-of-sequence id, if any.
	eos() (int32, bool)
	// pad returns the padding id.
	pad() int32
}

// hfEncoder adapts a tokenizer.json tokenizer.
type hfEncoder struct {
	tok   *tokenizer.Tokenizer
	padID int32
}

// newHFEncoder pads with the tokenizer's padding token, else the model's
// pad_token_id, else the end-of-sequence token, else id 0 (padding is
// masked, so only its range matters).
func newHFEncoder(tok *tokenizer.Tokenizer, cfg *model.Config) *hfEncoder {
	e := &hfEncoder{tok: tok}
	if s, ok := tok.PAD(); ok {
		e.padID = int32(s.ID)
	} else if cfg.PadTokenID >= 0 && cfg.PadTokenID < cfg.VocabSize {
		e.padID = int32(cfg.PadTokenID)
	} else if s, ok := tok.EOS(); ok {
		e.padID = int32(s.ID)
	}
	return e
}

func (e *hfEncoder) encode(text string, special bool) ([]int32, int, error) {
	var enc tokenizer.Encoding
	var err error
	if special {
		enc, err = e.tok.Encode(text)
	} else {
		enc, err = e.tok.EncodeNoSpecial(text)
	}
	if err != nil {
		return nil, 0, err
	}
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	// Tokens the post-processor appended cover no text: offsets (0, 0).
	trailing := 0
	for i := len(enc.Offsets) - 1; i > 0 && special && len(text) > 0; i-- {
		if enc.Offsets[i] != [2]int{0, 0} {
			break
		}
		trailing++
	}
	return ids, trailing, nil
}

func (e *hfEncoder) eos() (int32, bool) {
	s, ok := e.tok.EOS()
	return int32(s.ID), ok
}

func (e *hfEncoder) pad() int32 { return e.padID }

// example is one tokenised example.
type example struct {
	source string
	ids    []int32 // input ids (the encoder's for seq2seq)
	// labels: causal LM one per id (-100 where the loss ignores it),
	// seq2seq the target ids; nil for classification.
	labels []int32
	class  int32   // classification label
	value  float32 // regression target
}

// dataset is a tokenised split.
type dataset struct {
	task       string
	regression bool
	padID      int32
	examples   []example
}

// tokenize turns records into examples: truncated to maxLen tokens,
// labels checked against numLabels, every example required to have a
// token the loss counts.
func tokenize(recs []record, task string, enc encoder, maxLen int, cfg *model.Config) (*dataset, error) {
	ds := &dataset{task: task, padID: enc.pad()}
	if task == taskSeqCls {
		ds.regression = cfg.ProblemType == "regression" || (cfg.ProblemType == "" && cfg.NumLabels == 1)
	}
	for _, r := range recs {
		ex, err := tokenizeOne(r, task, enc, maxLen, cfg, ds.regression)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.source, err)
		}
		ex.source = r.source
		ds.examples = append(ds.examples, ex)
	}
	if len(ds.examples) == 0 {
		return nil, errors.New("no examples")
	}
	return ds, nil
}

func tokenizeOne(r record, task string, enc encoder, maxLen int, cfg *model.Config, regression bool) (example, error) {
	var ex example
	switch task {
	case taskCausal:
		if !r.isPrompt {
			ids, _, err := enc.encode(r.text, true)
			if err != nil {
				return ex, err
			}
			ids = truncate(ids, 0, maxLen)
			ex.ids, ex.labels = ids, append([]int32(nil), ids...)
		} else {
			p, _, err := enc.encode(r.prompt, true)
			if err != nil {
				return ex, err
			}
			c, _, err := enc.encode(r.completion, false)
			if err != nil {
				return ex, err
			}
			if id, ok := enc.eos(); ok {
				c = append(c, id)
			}
			ids := truncate(append(append([]int32(nil), p...), c...), 0, maxLen)
			labels := make([]int32, len(ids))
			for i := range ids {
				labels[i] = model.IgnoreIndex
				if i >= len(p) {
					labels[i] = ids[i]
				}
			}
			ex.ids, ex.labels = ids, labels
		}
		if countCausal(ex.labels) == 0 {
			return ex, fmt.Errorf("no token to predict after truncation to %d tokens (a causal LM example needs a second token; a completion must survive truncation)", maxLen)
		}
	case taskSeq2Seq:
		ids, trail, err := enc.encode(r.input, true)
		if err != nil {
			return ex, err
		}
		tgt, ttrail, err := enc.encode(r.target, true)
		if err != nil {
			return ex, err
		}
		ex.ids, ex.labels = truncate(ids, trail, maxLen), truncate(tgt, ttrail, maxLen)
		if len(ex.ids) == 0 {
			return ex, errors.New("the input has no tokens")
		}
		if len(ex.labels) == 0 {
			return ex, errors.New("the target has no tokens: nothing for the loss to count")
		}
	case taskSeqCls:
		ids, trail, err := enc.encode(r.text, true)
		if err != nil {
			return ex, err
		}
		ex.ids = truncate(ids, trail, maxLen)
		if len(ex.ids) == 0 {
			return ex, errors.New("the text has no tokens")
		}
		if r.byName {
			id, err := classByName(cfg, r.labelName, regression)
			if err != nil {
				return ex, err
			}
			r.label = float64(id)
		}
		if regression {
			ex.value = float32(r.label)
		} else {
			if r.label != math.Trunc(r.label) || r.label < 0 || r.label >= float64(cfg.NumLabels) {
				return ex, fmt.Errorf("label %v is outside the classes [0, %d) of the model (num_labels %d)", r.label, cfg.NumLabels, cfg.NumLabels)
			}
			ex.class = int32(r.label)
		}
	default:
		return ex, fmt.Errorf("task %q cannot be trained (model with a %s head)", task, task)
	}
	for _, id := range ex.ids {
		if int(id) >= cfg.VocabSize {
			return ex, fmt.Errorf("token id %d is outside the model's vocabulary (%d): tokenizer and model do not match", id, cfg.VocabSize)
		}
	}
	return ex, nil
}

// truncate keeps at most n ids: the first ones, plus the last trailing
// special tokens.
func truncate(ids []int32, trailing, n int) []int32 {
	if len(ids) <= n {
		return ids
	}
	if trailing >= n {
		trailing = 0
	}
	out := append([]int32(nil), ids[:n-trailing]...)
	return append(out, ids[len(ids)-trailing:]...)
}

// countCausal counts the labels a causal LM loss counts: every position
// after the first (labels shift by one) that is not ignored.
func countCausal(labels []int32) int {
	n := 0
	for i := 1; i < len(labels); i++ {
		if labels[i] != model.IgnoreIndex {
			n++
		}
	}
	return n
}

// split moves a fraction of the examples (at least one) into a second
// dataset, chosen by a permutation seeded by seed.
func (d *dataset) split(frac float64, seed uint64) (*dataset, *dataset, error) {
	n := len(d.examples)
	k := int(math.Round(frac * float64(n)))
	if k < 1 {
		k = 1
	}
	if k >= n {
		return nil, nil, fmt.Errorf("eval fraction %g of %d examples leaves none to train on", frac, n)
	}
	perm := rand.New(rand.NewPCG(seed, 0x5eed5)).Perm(n)
	train := &dataset{task: d.task, regression: d.regression, padID: d.padID}
	eval := &dataset{task: d.task, regression: d.regression, padID: d.padID}
	for i, p := range perm {
		if i < k {
			eval.examples = append(eval.examples, d.examples[p])
		} else {
			train.examples = append(train.examples, d.examples[p])
		}
	}
	return train, eval, nil
}

// batch assembles the examples at idx into right-padded inputs and
// reports the number of real tokens and of tokens the loss counts.
func (d *dataset) batch(idx []int) (in *model.Inputs, tokens, counted int) {
	B := len(idx)
	T := 0
	D := 0
	for _, i := range idx {
		T = max(T, len(d.examples[i].ids))
		D = max(D, len(d.examples[i].labels))
	}
	in = &model.Inputs{Batch: B, Seq: T,
		InputIDs: make([]int32, B*T), AttentionMask: make([]int32, B*T)}
	for b, i := range idx {
		ex := d.examples[i]
		for t := range T {
			if t < len(ex.ids) {
				in.InputIDs[b*T+t], in.AttentionMask[b*T+t] = ex.ids[t], 1
				tokens++
			} else {
				in.InputIDs[b*T+t] = d.padID
			}
		}
	}
	switch d.task {
	case taskCausal:
		in.Labels = padLabels(d, idx, T)
		for b := range B {
			counted += countCausal(in.Labels[b*T : (b+1)*T])
		}
	case taskSeq2Seq:
		in.Labels = padLabels(d, idx, D)
		in.DecoderSeq = D
		for _, l := range in.Labels {
			if l != model.IgnoreIndex {
				counted++
				tokens++
			}
		}
	case taskSeqCls:
		counted = B
		for _, i := range idx {
			if d.regression {
				in.LabelsFloat = append(in.LabelsFloat, d.examples[i].value)
			} else {
				in.Labels = append(in.Labels, d.examples[i].class)
			}
		}
	}
	return in, tokens, counted
}

// padLabels lays the examples' labels out [B, n], -100 past each end.
func padLabels(d *dataset, idx []int, n int) []int32 {
	out := make([]int32, len(idx)*n)
	for b, i := range idx {
		l := d.examples[i].labels
		for t := range n {
			out[b*n+t] = model.IgnoreIndex
			if t < len(l) {
				out[b*n+t] = l[t]
			}
		}
	}
	return out
}

// classByName maps a class name to its id through config.json's label2id.
func classByName(cfg *model.Config, name string, regression bool) (int, error) {
	if regression {
		return 0, fmt.Errorf("label %q is a name, but the model regresses one number (num_labels 1)", name)
	}
	table, _ := cfg.Raw["label2id"].(map[string]any)
	if id, ok := table[name].(float64); ok && id >= 0 && id < float64(cfg.NumLabels) && id == math.Trunc(id) {
		return int(id), nil
	}
	names := make([]string, 0, len(table))
	for k := range table {
		names = append(names, strconv.Quote(k))
	}
	slices.Sort(names)
	return 0, fmt.Errorf("label %q is not a class of the model (label2id: %s)", name, strings.Join(names, ", "))
}
