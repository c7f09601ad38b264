package tfew

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// Score is one answer choice's log-likelihood under the model.
type Score struct {
	// LogLik is Σ log p(token) over the choice's tokens.
	LogLik float64
	// Tokens is the number of the choice's tokens.
	Tokens int
}

// Mean returns the length-normalised log-likelihood LogLik/Tokens, the
// score T-Few ranks choices by.
func (s Score) Mean() float64 { return s.LogLik / float64(s.Tokens) }

// Scores runs m (with its active adapters) on ex's choices without
// gradients and returns each choice's score; ex.Label is not used.
func Scores(m *model.Model, ex Example) ([]Score, error) {
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	l, flat := forward(g, m, ex, false)
	if flat == nil {
		return nil, fmt.Errorf("score choices: %w", g.Err())
	}
	nll := g.Concat(0, l.choiceNLL(g, flat)...)
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("score choices: %w", err)
	}
	vals, err := g.B.ToFloat32(nll.T)
	if err != nil {
		return nil, fmt.Errorf("score choices: download: %w", err)
	}
	out := make([]Score, len(vals))
	for c, v := range vals {
		n := len(l.rows[c])
		out[c] = Score{LogLik: -float64(v) * float64(n), Tokens: n}
	}
	return out, nil
}

// Pick returns the index of the best choice: the highest length-normalised
// log-likelihood (normalised) or the highest total log-likelihood, the
// first on ties; -1 when scores is empty.
func Pick(scores []Score, normalised bool) int {
	best, at := math.Inf(-1), -1
	for c, s := range scores {
		v := s.LogLik
		if normalised {
			v = s.Mean()
		}
		if at < 0 || v > best {
			best, at = v, c
		}
	}
	return at
}

// Predict returns Pick(Scores(m, ex), true): T-Few's rank classification.
func Predict(m *model.Model, ex Example) (int, []Score, error) {
	s, err := Scores(m, ex)
	if err != nil {
		return -1, nil, err
	}
	return Pick(s, true), s, nil
}

// Result is an evaluation by rank classification.
type Result struct {
	// Examples is the number scored; Correct how many picks were right.
	Examples, Correct int
	// Loss is the mean length-normalised loss L_LN (the cross-entropy of
	// the softmax over choice scores), comparable across runs.
	Loss float64
}

// Accuracy returns Correct/Examples (NaN with no example).
func (r Result) Accuracy() float64 { return float64(r.Correct) / float64(r.Examples) }

// Evaluate ranks every labelled example's choices with m and counts the
// correct picks; it stops with ctx.
func Evaluate(ctx context.Context, m *model.Model, examples []Example) (Result, error) {
	var r Result
	if len(examples) == 0 {
		return r, errors.New("evaluate: no examples")
	}
	lossSum := 0.0
	for i, ex := range examples {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if err := ex.Validate(m.Config().VocabSize, true); err != nil {
			return r, fmt.Errorf("evaluate example %d: %w", i, err)
		}
		s, err := Scores(m, ex)
		if err != nil {
			return r, fmt.Errorf("evaluate example %d: %w", i, err)
		}
		r.Examples++
		if Pick(s, true) == ex.Label {
			r.Correct++
		}
		lossSum += lnLoss(s, ex.Label)
	}
	r.Loss = lossSum / float64(r.Examples)
	return r, nil
}

// lnLoss is L_LN from scores: −log softmax(mean log-likelihoods)[label].
func lnLoss(s []Score, label int) float64 {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = math.Max(mx, v.Mean())
	}
	sum := 0.0
	for _, v := range s {
		sum += math.Exp(v.Mean() - mx)
	}
	return mx + math.Log(sum) - s[label].Mean()
}
