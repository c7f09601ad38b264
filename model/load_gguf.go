package model

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ia3/ia3/model/gguf"
	"github.com/ia3/ia3/model/safetensors"
)

// ggufConfig builds the Config of a GGUF file from the config.json that
// its metadata describes (gguf.File.HFConfig), parsed as a real one is.
func ggufConfig(f *gguf.File) (*Config, error) {
	raw, err := f.HFConfig()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: config from metadata: %w", f.Path(), err)
	}
	c, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: config from metadata: %w", f.Path(), err)
	}
	return c, nil
}

// loadGGUFConfig reads the Config of the GGUF file at path.
func loadGGUFConfig(path string) (*Config, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ggufConfig(f)
}

// openModel returns the Config and weights of a checkpoint directory, or
// of a GGUF file (its tensors under transformers' names, dequantised to
// F32 where quantised; F16 and BF16 kept).
func openModel(dir string) (*Config, *safetensors.Checkpoint, error) {
	if !gguf.IsPath(dir) {
		cfg, err := LoadConfig(dir)
		if err != nil {
			return nil, nil, err
		}
		ck, err := OpenWeights(dir)
		if err != nil {
			return nil, nil, err
		}
		return cfg, ck, nil
	}
	f, err := gguf.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ggufConfig(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	s, err := gguf.NewShard(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if q := f.Summary().Dequantised; len(q) > 0 {
		slog.Info("GGUF quantised tensors are dequantised to F32 at load", "file", dir, "types", q)
	}
	return cfg, safetensors.FromShard(s), nil
}
