package tokenizer

import (
	"fmt"

	"github.com/ia3/ia3/model/gguf"
)

// LoadGGUF builds the tokenizer of a llama.cpp GGUF file from its
// tokenizer.ggml.* metadata (see gguf.File.TokenizerJSON), with the BOS,
// EOS, PAD and UNK tokens its *_token_id keys name.
func LoadGGUF(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	g, err := f.TokenizerJSON()
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := FromJSON(path, g.JSON)
	if err != nil {
		return nil, err
	}
	for role, id := range map[string]int{"bos": g.Specials.BOS, "eos": g.Specials.EOS, "pad": g.Specials.PAD, "unk": g.Specials.UNK} {
		if id >= 0 {
			t.specials[role] = SpecialToken{Token: g.Tokens[id], ID: id}
		}
	}
	return t, nil
}
