package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/internal/regular"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/gguf"
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
	if err := mustBeFile(modelConfigPath(modelDir), "model config"); err != nil {
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

// modelConfigPath is the file holding a model's config: dir/config.json,
// or dir itself when it is a llama.cpp GGUF file (its metadata).
func modelConfigPath(dir string) string {
	if gguf.IsPath(dir) {
		return dir
	}
	return filepath.Join(dir, "config.json")
}

// tokenizerPath is the file holding a model's tokenizer: dir/tokenizer.json,
// or dir itself when it is a GGUF file (tokenizer.ggml.* metadata).
func tokenizerPath(dir string) string {
	if gguf.IsPath(dir) {
		return dir
	}
	return filepath.Join(dir, "tokenizer.json")
}

// tokenizerFile is the file dir's tokenizer is read from: tokenizer.json,
// else the SentencePiece model tokenizer.LoadDir converts (spm.model,
// spiece.model, tokenizer.model), else tokenizer.json (to name what is
// missing).
func tokenizerFile(dir string) string {
	p := tokenizerPath(dir)
	if _, err := os.Stat(p); err == nil || gguf.IsPath(dir) {
		return p
	}
	for _, name := range []string{"spm.model", "spiece.model", "tokenizer.model"} {
		if q := filepath.Join(dir, name); regular.Check(q) == nil {
			return q
		}
	}
	return p
}
