package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/quant"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// ModelDir holds the base model and its tokenizer.json.
	ModelDir string
	// AdapterDir holds a PEFT adapter to apply; "" evaluates the base
	// model.
	AdapterDir string
	// DataFile is JSONL in the format Options.TrainFile describes.
	DataFile string
	// BatchSize (default 8) and MaxLength (default 512) as for training.
	BatchSize int
	MaxLength int
	// Device is the backend spec ("auto" when empty); Backend, when set,
	// is used instead (and not closed).
	Device  string
	Backend backend.Backend
	// Quantize keeps the base model's block weights quantized (see
	// Options.Quantize).
	Quantize quant.Format
}

// Evaluate computes the loss (and accuracy for classification) of a
// model, with an adapter when one is given, over a JSONL file.
func Evaluate(ctx context.Context, o EvalOptions) (*Metrics, error) {
	d := DefaultOptions()
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.MaxLength == 0 {
		o.MaxLength = d.MaxLength
	}
	if o.Device == "" {
		o.Device = d.Device
	}
	switch {
	case o.ModelDir == "":
		return nil, errors.New("evaluate: no model directory")
	case o.DataFile == "":
		return nil, errors.New("evaluate: no data file")
	case o.BatchSize < 0 || o.MaxLength < 2:
		return nil, fmt.Errorf("evaluate: batch size %d must be positive and max length %d at least 2", o.BatchSize, o.MaxLength)
	}
	b, closeB, err := openBackend(ctx, o.Backend, o.Device)
	if err != nil {
		return nil, err
	}
	defer closeB()
	base, enc, err := loadModel(ctx, o.ModelDir, b, o.Quantize)
	if err != nil {
		return nil, err
	}
	defer base.Free()
	if o.AdapterDir != "" {
		pm, err := ia3.FromPretrained(base, o.AdapterDir, ia3.DefaultAdapter, false)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		defer func() { _ = pm.DeleteAdapter(ia3.DefaultAdapter) }()
	}
	ds, err := loadSet(o.DataFile, base.Config(), enc, maxLength(o.MaxLength, base.Config()), true)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	m, err := evaluate(ctx, b, base, ds, o.BatchSize)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
