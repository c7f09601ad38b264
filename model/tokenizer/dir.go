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
// declares them. A dir without tokenizer.json but with a SentencePiece
// model (spm.model, spiece.model or tokenizer.model) is converted as
// transformers converts it (see LoadSentencePieceDir). A dir that is a
// GGUF file (a path ending in .gguf) is read by LoadGGUF.
func LoadDir(dir string) (*Tokenizer, error) {
	if gguf.IsPath(dir) {
		return LoadGGUF(dir)
	}
	jsonPath := filepath.Join(dir, "tokenizer.json")
	var t *Tokenizer
	_, err := os.Stat(jsonPath)
	switch {
	case err == nil:
		t, err = Load(jsonPath)
	case errors.Is(err, fs.ErrNotExist):
		t, err = LoadSentencePieceDir(dir)
	default:
		err = fmt.Errorf("tokenizer: %w", err)
	}
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

// ErrNoTokenizer is returned (wrapped, with fs.ErrNotExist) when a model
// directory has neither a tokenizer.json nor a SentencePiece model.
var ErrNoTokenizer = errors.New("no tokenizer.json and no SentencePiece model (spm.model, spiece.model, tokenizer.model)")

// spmNames are the SentencePiece model files tried, after the one the
// layout's class saves.
var spmNames = []string{"spm.model", "spiece.model", "tokenizer.model"}

// LoadSentencePieceDir builds dir's tokenizer from its SentencePiece model
// as transformers converts a slow tokenizer to a fast one: the class is
// tokenizer_config.json's tokenizer_class, else config.json's model_type
// (see SentencePieceLayout); the model file is the one that class saves
// (spm.model for DeBERTa-v2, spiece.model for T5 and ALBERT,
// tokenizer.model for Llama), else any of them; tokenizer_config.json and
// special_tokens_map.json give the options and special tokens.
func LoadSentencePieceDir(dir string) (*Tokenizer, error) {
	optional := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		return b, nil
	}
	tc, err := optional("tokenizer_config.json")
	if err != nil {
		return nil, err
	}
	stm, err := optional("special_tokens_map.json")
	if err != nil {
		return nil, err
	}
	cfg, err := optional("config.json")
	if err != nil {
		return nil, err
	}
	var class struct {
		TokenizerClass string `json:"tokenizer_class"`
	}
	var modelType struct {
		ModelType string `json:"model_type"`
	}
	if tc != nil {
		if err := json.Unmarshal(tc, &class); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: bad JSON: %w", filepath.Join(dir, "tokenizer_config.json"), err)
		}
	}
	if cfg != nil {
		if err := json.Unmarshal(cfg, &modelType); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: bad JSON: %w", filepath.Join(dir, "config.json"), err)
		}
	}
	name, mt := class.TokenizerClass, modelType.ModelType
	var path string
	layout, layoutErr := "", error(nil)
	if name != "" || mt != "" {
		layout, layoutErr = SentencePieceLayout(name, mt)
	}
	for _, n := range append([]string{spmFileByLayout[layout]}, spmNames...) {
		if n == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			path = filepath.Join(dir, n)
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("tokenizer: %s: %w: %w", dir, ErrNoTokenizer, fs.ErrNotExist)
	}
	switch {
	case layoutErr != nil && name != "":
		return nil, fmt.Errorf("tokenizer: %s: %s: %w", path, filepath.Join(dir, "tokenizer_config.json"), layoutErr)
	case layoutErr != nil:
		return nil, fmt.Errorf("tokenizer: %s: %s: %w", path, filepath.Join(dir, "config.json"), layoutErr)
	case layout == "":
		return nil, fmt.Errorf("tokenizer: %s: neither tokenizer_config.json's tokenizer_class nor config.json's model_type says which tokenizer class to convert it as", path)
	}
	m, err := ReadSentencePiece(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	raw, err := ConvertSentencePiece(path, m, SentencePieceOptions{Layout: layout, TokenizerConfig: tc, SpecialTokensMap: stm})
	if err != nil {
		return nil, err
	}
	return FromJSON(path, raw)
}
