package gguf

import (
	"maps"
	"slices"
)

// Summary is what `ia3 inspect` shows of a GGUF file: its format, model
// and tokenizer metadata and the tensor types it holds.
type Summary struct {
	Version      uint32         `json:"version"`
	Parts        int            `json:"parts"`
	Architecture string         `json:"architecture"`
	Name         string         `json:"name,omitempty"`
	Alignment    int64          `json:"alignment"`
	MetadataKeys int            `json:"metadata_keys"`
	Tensors      int            `json:"tensors"`
	TensorBytes  int64          `json:"tensor_bytes"`
	Types        map[string]int `json:"tensor_types"`
	// Tokenizer is tokenizer.ggml.model ("llama", "gpt2"), Vocab the
	// token list's length.
	Tokenizer    string `json:"tokenizer,omitempty"`
	PreTokenizer string `json:"pre_tokenizer,omitempty"`
	Vocab        int    `json:"vocab"`
	ChatTemplate bool   `json:"chat_template"`
	// Dequantised lists the quantised types that loading turns into F32,
	// Unsupported the types loading refuses.
	Dequantised []string `json:"dequantised_at_load,omitempty"`
	Unsupported []string `json:"unsupported,omitempty"`
}

// Summary summarises the file's metadata and tensor table.
func (f *File) Summary() Summary {
	s := Summary{Version: f.version, Parts: f.Parts(), Alignment: f.alignment, MetadataKeys: len(f.keys), Tensors: len(f.tensors),
		Types: map[string]int{}, ChatTemplate: f.ChatTemplate() != ""}
	s.Architecture, _ = f.Architecture()
	if v, ok := f.kv["general.name"]; ok {
		s.Name, _ = v.Str()
	}
	if v, ok := f.kv["tokenizer.ggml.model"]; ok {
		s.Tokenizer, _ = v.Str()
	}
	if v, ok := f.kv["tokenizer.ggml.pre"]; ok {
		s.PreTokenizer, _ = v.Str()
	}
	if v, ok := f.kv["tokenizer.ggml.tokens"]; ok {
		s.Vocab = v.Len()
	}
	for _, t := range f.tensors {
		s.Types[t.Type.String()]++
		s.TensorBytes += t.Size
	}
	byName := map[string]Type{}
	for _, t := range f.tensors {
		byName[t.Type.String()] = t.Type
	}
	for _, name := range slices.Sorted(maps.Keys(s.Types)) {
		switch t := byName[name]; {
		case !t.Dequantisable():
			s.Unsupported = append(s.Unsupported, name)
		case t != F32 && t != F16 && t != BF16:
			s.Dequantised = append(s.Dequantised, name)
		}
	}
	return s
}
