package chat

import (
	"fmt"

	"github.com/ia3/ia3/model/gguf"
)

// LoadGGUF compiles the chat template a llama.cpp GGUF file stores in
// tokenizer.chat_template, with the special tokens its tokenizer.ggml.*
// ids name. A file without a template gives an error wrapping
// ErrNoTemplate.
func LoadGGUF(path string) (*Template, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	defer f.Close()
	src := f.ChatTemplate()
	if src == "" {
		return nil, fmt.Errorf("chat: %s: no tokenizer.chat_template, so %w", path, ErrNoTemplate)
	}
	t, err := New(src, f.SpecialTokenText())
	if err != nil {
		return nil, fmt.Errorf("chat: %s: tokenizer.chat_template: %w", path, err)
	}
	return t, nil
}
