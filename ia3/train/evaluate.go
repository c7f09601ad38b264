package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// Metrics is an evaluation's result.
type Metrics struct {
	// Loss is the model's loss over the whole set: the mean over every
	// counted token (language models) or example (classification).
	Loss float64
	// Accuracy is the fraction of examples whose highest logit is the
	// label; set for classification with more than one label only.
	Accuracy    float64
	HasAccuracy bool
	Examples    int
	Tokens      int
	// Skipped counts the examples left out for having no token to
	// predict (a one-token text, a completion or target truncated away).
	Skipped int `json:",omitempty"`
}

// EvalPoint is one evaluation during training.
type EvalPoint struct {
	Step int `json:"step"`
	Metrics
}

// evaluate runs the model without gradients over d in batches.
func evaluate(ctx context.Context, b backend.Backend, base *model.Model, d *dataset, batchSize int) (Metrics, error) {
	var m Metrics
	if d == nil || len(d.examples) == 0 {
		return m, errors.New("evaluate: no examples")
	}
	if d.task == taskChoices {
		return evaluateChoices(ctx, base, d)
	}
	m.Skipped = d.skipped
	var lossSum float64
	var counted, correct int
	classify := d.task == taskSeqCls
	for start := 0; start < len(d.examples); start += batchSize {
		if err := ctx.Err(); err != nil {
			return m, fmt.Errorf("evaluate: %w", err)
		}
		idx := make([]int, 0, batchSize)
		for i := start; i < min(start+batchSize, len(d.examples)); i++ {
			idx = append(idx, i)
		}
		in, tokens, n := d.batch(idx)
		m.Tokens += tokens
		m.Examples += len(idx)
		if classify {
			l, c, err := classifyBatch(b, base, in, d.regression)
			if err != nil {
				return m, fmt.Errorf("evaluate %s: %w", d.examples[idx[0]].source, err)
			}
			lossSum += l
			correct += c
			counted += n
			continue
		}
		l, err := batchLoss(b, base, in)
		if err != nil {
			return m, fmt.Errorf("evaluate %s: %w", d.examples[idx[0]].source, err)
		}
		lossSum += l * float64(n)
		counted += n
	}
	m.Loss = lossSum / float64(counted)
	if classify && !d.regression {
		m.Accuracy, m.HasAccuracy = float64(correct)/float64(m.Examples), true
	}
	return m, nil
}

// batchLoss returns the model's mean loss on one batch.
func batchLoss(b backend.Backend, base *model.Model, in *model.Inputs) (float64, error) {
	g := nn.NewGraph(b, false)
	defer g.Release()
	loss := base.Loss(g, in)
	if err := g.Err(); err != nil {
		return 0, err
	}
	v, err := b.ToFloat32(loss.T)
	if err != nil {
		return 0, err
	}
	return float64(v[0]), nil
}

// classifyBatch returns the summed loss over the batch's examples
// (cross-entropy, or squared error for regression, as the model's loss)
// and how many were classified right, from one download of the logits.
func classifyBatch(b backend.Backend, base *model.Model, in *model.Inputs, regression bool) (sum float64, correct int, err error) {
	g := nn.NewGraph(b, false)
	defer g.Release()
	logits := base.Forward(g, in)
	if err := g.Err(); err != nil {
		return 0, 0, err
	}
	v, err := b.ToFloat32(logits.T)
	if err != nil {
		return 0, 0, err
	}
	c := len(v) / in.Batch
	for i := range in.Batch {
		row := v[i*c : (i+1)*c]
		if regression {
			d := float64(row[0]) - float64(in.LabelsFloat[i])
			sum += d * d
			continue
		}
		best, mx := 0, math.Inf(-1)
		for j, x := range row {
			if float64(x) > mx {
				best, mx = j, float64(x)
			}
		}
		lse := 0.0
		for _, x := range row {
			lse += math.Exp(float64(x) - mx)
		}
		sum += mx + math.Log(lse) - float64(row[in.Labels[i]])
		if int32(best) == in.Labels[i] {
			correct++
		}
	}
	return sum, correct, nil
}
