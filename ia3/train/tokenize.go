package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/model"
)

// Task types, as model.Config.TaskType names them.
const (
	taskCausal  = model.TaskCausalLM
	taskSeq2Seq = model.TaskSeq2SeqLM
	taskSeqCls  = model.TaskSeqCls
)

// example is one tokenised example.
type example struct {
	source string
	ids    []int32 // input ids (the encoder's for seq2seq)
	// labels: causal LM one per id (-100 where the loss ignores it),
	// seq2seq the target ids; nil for classification.
	labels []int32
	class  int32   // classification label
	value  float32 // regression target
	// choice is a multiple-choice example (the T-Few recipe); the fields
	// above are then unused.
	choice *tfew.Example
	// adapter names the adapter the example trains in a mixed-adapter
	// run (Options.Mixed); "" otherwise.
	adapter string
}

// noTargetError marks an example with no token for the loss to count.
type noTargetError struct{ error }

// tokenize turns records into examples: truncated to maxLen tokens,
// labels checked against numLabels, every example required to have a
// token the loss counts. With skipNoTarget (evaluation data) an example
// without one is skipped and counted in dataset.skipped instead; the set
// fails only when none remains.
func tokenize(recs []record, task string, enc encoder, maxLen int, cfg *model.Config, skipNoTarget bool) (*dataset, error) {
	b := newBuilder(task, enc, maxLen, cfg, skipNoTarget)
	for _, r := range recs {
		if err := b.add(r); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// builder tokenises records one at a time into a dataset (see tokenize),
// so that a file's text need not be held whole.
type builder struct {
	ds           *dataset
	enc          encoder
	maxLen       int
	cfg          *model.Config
	skipNoTarget bool
	firstSkip    error
}

func newBuilder(task string, enc encoder, maxLen int, cfg *model.Config, skipNoTarget bool) *builder {
	ds := &dataset{task: task, padID: enc.pad()}
	if task == taskSeqCls {
		ds.regression = cfg.ProblemType == "regression" || (cfg.ProblemType == "" && cfg.NumLabels == 1)
	}
	return &builder{ds: ds, enc: enc, maxLen: maxLen, cfg: cfg, skipNoTarget: skipNoTarget}
}

// add tokenises one record; errors name its source.
func (b *builder) add(r record) error {
	ex, err := tokenizeOne(r, b.ds.task, b.enc, b.maxLen, b.cfg, b.ds.regression)
	if nt := (noTargetError{}); b.skipNoTarget && errors.As(err, &nt) {
		if b.ds.skipped++; b.firstSkip == nil {
			b.firstSkip = fmt.Errorf("%s: %w", r.source, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.source, err)
	}
	ex.source = r.source
	b.ds.examples = append(b.ds.examples, ex)
	return nil
}

// done returns the dataset, or an error when no example is in it.
func (b *builder) done() (*dataset, error) {
	if len(b.ds.examples) == 0 && b.firstSkip != nil {
		return nil, fmt.Errorf("no example has a token to predict (all %d skipped; the first: %w)", b.ds.skipped, b.firstSkip)
	}
	if len(b.ds.examples) == 0 {
		return nil, errors.New("no examples")
	}
	return b.ds, nil
}

func tokenizeOne(r record, task string, enc encoder, maxLen int, cfg *model.Config, regression bool) (example, error) {
	var ex example
	switch task {
	case taskCausal:
		if r.messages != nil {
			chatEx, err := tokenizeChat(r.messages, enc, maxLen)
			if err != nil {
				return ex, err
			}
			ex = chatEx
		} else if !r.isPrompt {
			ids, _, err := encodeHead(enc, r.text, true, maxLen)
			if err != nil {
				return ex, err
			}
			ids = truncate(ids, 0, maxLen)
			ex.ids, ex.labels = ids, append([]int32(nil), ids...)
		} else {
			p, _, err := encodeHead(enc, r.prompt, true, maxLen)
			if err != nil {
				return ex, err
			}
			c, _, err := encodeHead(enc, r.completion, false, maxLen)
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
			return ex, noTargetError{fmt.Errorf("no token to predict after truncation to %d tokens (a causal LM example needs a second token; a completion must survive truncation)", maxLen)}
		}
	case taskSeq2Seq:
		ids, trail, err := encodeHead(enc, r.input, true, maxLen)
		if err != nil {
			return ex, err
		}
		tgt, ttrail, err := encodeHead(enc, r.target, true, maxLen)
		if err != nil {
			return ex, err
		}
		ex.ids, ex.labels = truncate(ids, trail, maxLen), truncate(tgt, ttrail, maxLen)
		if len(ex.ids) == 0 {
			return ex, errors.New("the input has no tokens")
		}
		if len(ex.labels) == 0 {
			return ex, noTargetError{errors.New("the target has no tokens: nothing for the loss to count")}
		}
	case taskSeqCls:
		ids, trail, err := encodeHead(enc, r.text, true, maxLen)
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
