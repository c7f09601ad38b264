package main

import (
	"context"
	"path/filepath"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// loaded is a base model with the adapters named on the command line.
type loaded struct {
	b     backend.Backend
	base  *model.Model
	peft  *ia3.Model // nil without adapters
	names []string   // adapter names in command-line order
}

// close frees the model and the device.
func (l *loaded) close() {
	if l.base != nil {
		l.base.Free()
	}
	if l.b != nil {
		l.b.Close()
	}
}

// loadWithAdapters opens the device, loads the checkpoint in modelDir and
// attaches every adapter: the first active (PeftModel.from_pretrained),
// the others inactive (load_adapter), all frozen.
func loadWithAdapters(ctx context.Context, device, modelDir string, adapters []adapterSpec) (*loaded, error) {
	return loadChecked(ctx, device, modelDir, adapters, quant.None, nil)
}

// loadChecked is loadWithAdapters with the base's block weights quantized
// in q (--quantize), calling fits, when not nil, with the opened device and
// the model's config before any weight is loaded, so a run that cannot fit
// is refused before it allocates.
func loadChecked(ctx context.Context, device, modelDir string, adapters []adapterSpec, q quant.Format,
	fits func(backend.DeviceInfo, *model.Config) error) (*loaded, error) {
	if err := mustBeFile(filepath.Join(modelDir, "config.json"), "model config"); err != nil {
		return nil, err
	}
	for _, a := range adapters {
		if err := mustBeFile(filepath.Join(a.Dir, ia3.ConfigFile), "adapter config"); err != nil {
			return nil, err
		}
	}
	b, err := openDevice(ctx, device)
	if err != nil {
		return nil, err
	}
	l := &loaded{b: b}
	if fits != nil {
		cfg, err := model.LoadConfig(modelDir)
		if err == nil {
			err = fits(b.Info(), cfg)
		}
		if err != nil {
			l.close()
			return nil, err
		}
	}
	if l.base, err = model.LoadWith(ctx, modelDir, b, model.LoadOptions{Quantize: q}); err != nil {
		l.close()
		return nil, err // "load DIR: ..."
	}
	for i, a := range adapters {
		if i == 0 {
			l.peft, err = ia3.FromPretrained(l.base, a.Dir, a.Name, false)
		} else {
			err = l.peft.LoadAdapter(a.Dir, a.Name)
		}
		if err != nil {
			l.close()
			return nil, err // names the adapter and its directory or file
		}
		l.names = append(l.names, a.Name)
	}
	return l, nil
}
