package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/ia3/tfew"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// RecipeTFew names the T-Few recipe (Options.Recipe): the model trains on
// multiple-choice data with T-Few's three losses (package tfew) and
// evaluates by rank classification.
const RecipeTFew = "t-few"

// taskChoices is the dataset task of multiple-choice data.
const taskChoices = "choices"

// choicesFormat describes the multiple-choice JSONL line, for messages.
const choicesFormat = `{"input": ..., "choices": [...], "label": i}`

// choiceRecord is one multiple-choice JSONL line.
type choiceRecord struct {
	Input   *string          `json:"input"`
	Choices *[]string        `json:"choices"`
	Label   *json.RawMessage `json:"label"`
}

// isChoicesFile reports whether the first non-blank line of path is a JSON
// object with a "choices" field: multiple-choice data. A file it cannot
// read is left for the usual reader to report.
func isChoicesFile(path string) bool {
	errFirst := errors.New("first line read")
	found := false
	_ = eachLine(path, MaxLineBytes, func(_ int, data []byte) error {
		var raw map[string]json.RawMessage
		if json.Unmarshal(data, &raw) == nil {
			_, found = raw["choices"]
		}
		return errFirst
	})
	return found
}

// parseChoice decodes one multiple-choice line: an input string, at least
// one choice (each a non-empty string) and, when labelled, the index of
// the correct one.
func parseChoice(data []byte, labelled bool) (input string, choices []string, label int, err error) {
	var rec choiceRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rec); err != nil {
		return "", nil, 0, fmt.Errorf("invalid JSON (want an object %s): %w", choicesFormat, err)
	}
	if rec.Input == nil {
		return "", nil, 0, fmt.Errorf(`field "input": missing (want %s)`, choicesFormat)
	}
	if rec.Choices == nil || len(*rec.Choices) == 0 {
		return "", nil, 0, fmt.Errorf(`field "choices": missing or empty (want a list of answer strings)`)
	}
	for i, c := range *rec.Choices {
		if c == "" {
			return "", nil, 0, fmt.Errorf(`field "choices": choice %d is empty`, i)
		}
	}
	label = -1
	switch {
	case rec.Label != nil:
		var f float64
		if err := json.Unmarshal(*rec.Label, &f); err != nil || f != math.Trunc(f) || f < 0 || f >= float64(len(*rec.Choices)) {
			return "", nil, 0, fmt.Errorf(`field "label": %s is not a choice index in [0, %d)`, truncateForMessage(string(*rec.Label)), len(*rec.Choices))
		}
		label = int(f)
	case labelled:
		return "", nil, 0, fmt.Errorf(`field "label": missing (the index of the correct choice)`)
	}
	return *rec.Input, *rec.Choices, label, nil
}

// encodeChoice tokenises one example for the model's task. Seq2seq: the
// input and each choice with the tokenizer's special tokens (T5's </s>, as
// t-few does), the input truncated to maxLen keeping its trailing special
// tokens. Causal: the input with special tokens (a BOS where the tokenizer
// adds one), each choice without, and the input's first tokens dropped so
// that input and the longest choice fit maxLen.
func encodeChoice(enc encoder, task string, input string, choices []string, maxLen int) (tfew.Example, error) {
	var ex tfew.Example
	var ids []int32
	var trail int
	var err error
	if task == taskCausal {
		ids, trail, err = enc.encode(input, true) // its end is kept: encode it whole
	} else {
		ids, trail, err = encodeHead(enc, input, true, maxLen)
	}
	if err != nil {
		return ex, fmt.Errorf(`field "input": %w`, err)
	}
	longest := 0
	for i, c := range choices {
		cids, ctrail, err := encodeHead(enc, c, task == taskSeq2Seq, maxLen)
		if err != nil {
			return ex, fmt.Errorf(`field "choices": choice %d: %w`, i, err)
		}
		cids = truncate(cids, ctrail, maxLen)
		if len(cids) == 0 {
			return ex, fmt.Errorf(`field "choices": choice %d has no tokens`, i)
		}
		ex.Choices = append(ex.Choices, cids)
		longest = max(longest, len(cids))
	}
	switch task {
	case taskSeq2Seq:
		ids = truncate(ids, trail, maxLen)
	case taskCausal:
		if keep := maxLen - longest; len(ids) > keep {
			if keep < 1 {
				return ex, fmt.Errorf(`field "choices": a choice of %d tokens leaves no room for the input in --max-len %d`, longest, maxLen)
			}
			ids = ids[len(ids)-keep:]
		}
	default:
		return ex, fmt.Errorf("multiple-choice data needs a causal LM or a seq2seq model, not a %s head", task)
	}
	if len(ids) == 0 {
		return ex, errors.New(`field "input": no tokens`)
	}
	ex.Input = ids
	return ex, nil
}

// loadChoices reads and tokenises a multiple-choice JSONL file into a
// dataset whose examples carry their tfew.Example; errors name the file
// and line.
func loadChoices(path string, cfg *model.Config, enc encoder, maxLen int, labelled bool) (*dataset, error) {
	ds := &dataset{task: taskChoices, padID: enc.pad()}
	err := eachLine(path, MaxLineBytes, func(line int, data []byte) error {
		src := fmt.Sprintf("%s:%d", path, line)
		input, choices, label, err := parseChoice(data, labelled)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		ex, err := encodeChoice(enc, cfg.TaskType, input, choices, maxLen)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		ex.Label = label
		if err := ex.Validate(cfg.VocabSize, labelled); err != nil {
			return fmt.Errorf("%s: %w (tokenizer and model do not match?)", src, err)
		}
		ds.examples = append(ds.examples, example{source: src, choice: &ex})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// ReadChoices reads a multiple-choice JSONL file ({"input", "choices",
// "label"} per line; label optional unless labelled) tokenised with the
// model directory's tokenizer for the model's task, for tfew.Evaluate or
// tfew.Predict.
func ReadChoices(modelDir string, cfg *model.Config, path string, maxLen int, labelled bool) ([]tfew.Example, error) {
	enc, err := loadEncoder(modelDir, cfg)
	if err != nil {
		return nil, err
	}
	ds, err := loadChoices(path, cfg, enc, maxLength(maxLen, cfg), labelled)
	if err != nil {
		return nil, err
	}
	out := make([]tfew.Example, len(ds.examples))
	for i, ex := range ds.examples {
		out[i] = *ex.choice
	}
	return out, nil
}

// EncodeChoices tokenises one multiple-choice example given as text with
// the model directory's tokenizer (label -1: unknown).
func EncodeChoices(modelDir string, cfg *model.Config, input string, choices []string, maxLen int) (tfew.Example, error) {
	enc, err := loadEncoder(modelDir, cfg)
	if err != nil {
		return tfew.Example{}, err
	}
	for i, c := range choices {
		if c == "" {
			return tfew.Example{}, fmt.Errorf("choice %d is empty", i)
		}
	}
	ex, err := encodeChoice(enc, cfg.TaskType, input, choices, maxLength(maxLen, cfg))
	ex.Label = -1
	return ex, err
}

// TFewOptions returns DefaultOptions with the T-Few paper's settings
// (Liu et al. 2022, §3.3 and t-few's configs): the recipe's three losses
// with weight 1, learning rate 3e-3, batch size 8, 1000 steps, linear
// decay after a 6% warmup, no weight decay, gradients clipped to norm 1.
// The paper trains with Adafactor; AdamW at this learning rate works as
// well for (IA)³'s few vectors, and Adafactor is not required. The
// adapter's vectors start at ones (PEFT's init_ia3_weights, the paper's
// initialisation), so training starts from the base model.
func TFewOptions() Options {
	o := DefaultOptions()
	o.Recipe, o.TFewWeights = RecipeTFew, tfew.DefaultWeights()
	o.LR, o.BatchSize, o.MaxSteps = 3e-3, 8, 1000
	o.Schedule, o.WarmupRatio = ScheduleLinear, 0.06
	o.Optim.WeightDecay, o.MaxGradNorm = 0, 1
	return o
}

// checkRecipeData refuses multiple-choice data without the T-Few recipe
// and the recipe without multiple-choice data.
func checkRecipeData(recipe string, sets ...*dataset) error {
	for _, d := range sets {
		if d == nil {
			continue
		}
		switch {
		case recipe == RecipeTFew && d.task != taskChoices:
			return fmt.Errorf("train: the %s recipe needs multiple-choice data, %s lines", RecipeTFew, choicesFormat)
		case recipe != RecipeTFew && d.task == taskChoices:
			return fmt.Errorf("train: multiple-choice data (%s) trains with the %s recipe (--recipe %s)", choicesFormat, RecipeTFew, RecipeTFew)
		}
	}
	return nil
}

// choicesMicroBatch accumulates the T-Few losses of the examples at idx,
// one graph per example (each runs as a batch of its choices); the step's
// loss is their mean. It returns the number of choice tokens.
func (s *session) choicesMicroBatch(idx []int) (int, error) {
	tokens := 0
	for _, i := range idx {
		ex := s.train.examples[i]
		err := s.st.accumulateLoss(func(g *nn.Graph) *nn.Value {
			return tfew.Loss(g, s.base, *ex.choice, s.opts.TFewWeights).Total
		})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", ex.source, err)
		}
		for _, c := range ex.choice.Choices {
			tokens += len(c)
		}
	}
	return tokens, nil
}

// evaluateChoices ranks the choices of every example of d: Loss is the
// mean length-normalised loss L_LN, Accuracy the fraction of right picks.
func evaluateChoices(ctx context.Context, base *model.Model, d *dataset) (Metrics, error) {
	exs := make([]tfew.Example, len(d.examples))
	for i, ex := range d.examples {
		exs[i] = *ex.choice
	}
	r, err := tfew.Evaluate(ctx, base, exs)
	if err != nil {
		return Metrics{}, fmt.Errorf("evaluate %s: %w", d.examples[0].source, err)
	}
	m := Metrics{Loss: r.Loss, Accuracy: r.Accuracy(), HasAccuracy: true, Examples: r.Examples, Skipped: d.skipped}
	for _, ex := range exs {
		for _, c := range ex.Choices {
			m.Tokens += len(c)
		}
	}
	return m, nil
}
