package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/model/gguf"
)

// LoadDir loads dir/tokenizer.json and, when present, takes the BOS, EOS,
// PAD and UNK tokens from dir/tokenizer_config.json, where transformers
// declares them. A dir that is a GGUF file (a path ending in .gguf) is
// read by LoadGGUF.
func LoadDir(dir string) (*Tokenizer, error) {
	if gguf.IsPath(dir) {
		return LoadGGUF(dir)
	}
	t, err := Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	raw, err := os.ReadFile(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: bad JSON: %w", cfgPath, err)
	}
	for _, role := range []string{"bos", "eos", "pad", "unk"} {
		key := role + "_token"
		tok, ok, err := configToken(cfg[key])
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %s: %w", cfgPath, key, err)
		}
		if !ok {
			continue
		}
		id, found := t.TokenToID(tok)
		if !found {
			return nil, fmt.Errorf("tokenizer: %s: %s %q is not in the vocabulary", cfgPath, key, tok)
		}
		t.specials[role] = SpecialToken{Token: tok, ID: id}
	}
	return t, nil
}

// configToken reads a special-token entry of tokenizer_config.json: a
// string, an AddedToken object with "content", or null.
func configToken(raw json.RawMessage) (string, bool, error) {
	if isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, s != "", nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", false, fmt.Errorf("want a string or an object with \"content\", got %s", raw)
	}
	return *obj.Content, *obj.Content != "", nil
}
