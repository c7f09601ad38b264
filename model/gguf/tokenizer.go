package gguf

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// llama.cpp's token types (tokenizer.ggml.token_type).
const (
	tokenNormal      = 1
	tokenUnknown     = 2
	tokenControl     = 3
	tokenUserDefined = 4
	tokenUnused      = 5
	tokenByte        = 6
)

// llama3Split is Llama 3's pre-tokenizer expression (llama.cpp's
// LLAMA3 pre-type, named llama-bpe and smaug-bpe in files).
const llama3Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// Pre-tokenizer regular expressions of tokenizer.ggml.pre values, as the
// Hugging Face tokenizers they were converted from split text.
var preTokenizerRegex = map[string]string{
	"llama-bpe": llama3Split,
	"smaug-bpe": llama3Split,
	"qwen2":     `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
}

// SpecialTokens are the ids tokenizer.ggml.*_token_id name (-1: none).
type SpecialTokens struct {
	BOS, EOS, UNK, PAD int
}

// Tokenizer is a GGUF file's tokenizer as a Hugging Face tokenizer.json
// and its special token ids.
type Tokenizer struct {
	JSON     []byte
	Specials SpecialTokens
	// Tokens is the vocabulary, by id.
	Tokens []string
}

// TokenizerJSON builds the tokenizer.json of the file's tokenizer from
// tokenizer.ggml.* metadata, as transformers' GGUF loader converts it:
// "llama" (SentencePiece) becomes a byte-fallback BPE whose merges are
// derived from the token scores, with SentencePiece's "▁" space handling;
// "gpt2" becomes a byte-level BPE with the stored merges and the
// pre-tokenizer tokenizer.ggml.pre names (gpt-2/default, llama-bpe,
// smaug-bpe, qwen2).
// Control, unknown and user-defined tokens are added tokens; BOS and EOS
// tokens are added as tokenizer.ggml.add_bos_token and add_eos_token say.
func (f *File) TokenizerJSON() (*Tokenizer, error) {
	kind, err := f.str("tokenizer.ggml.model")
	if err != nil {
		return nil, err
	}
	tv, ok := f.kv["tokenizer.ggml.tokens"]
	tokens, isStr := tv.Strings()
	if !ok || !isStr || len(tokens) == 0 {
		return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.tokens is missing or not a list of strings", f.path)
	}
	types := make([]int64, len(tokens))
	for i := range types {
		types[i] = tokenNormal
	}
	if v, ok := f.kv["tokenizer.ggml.token_type"]; ok {
		ts, ok := v.Ints()
		if !ok || len(ts) != len(tokens) {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.token_type has %d entries for %d tokens", f.path, v.Len(), len(tokens))
		}
		types = ts
	}
	sp := SpecialTokens{BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	for key, dst := range map[string]*int{"bos_token_id": &sp.BOS, "eos_token_id": &sp.EOS,
		"unknown_token_id": &sp.UNK, "padding_token_id": &sp.PAD} {
		if _, ok := f.kv["tokenizer.ggml."+key]; !ok {
			continue
		}
		id, err := f.uintKey("tokenizer.ggml."+key, 0)
		if err != nil {
			return nil, err
		}
		if id >= int64(len(tokens)) {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.%s %d is past the %d tokens", f.path, key, id, len(tokens))
		}
		*dst = int(id)
	}
	flag := func(key string, def bool) bool {
		if v, ok := f.kv["tokenizer.ggml."+key]; ok {
			if b, ok := v.Bool(); ok {
				return b
			}
		}
		return def
	}
	vocab := make(map[string]int, len(tokens))
	var added []map[string]any
	for i, t := range tokens {
		if _, dup := vocab[t]; !dup {
			vocab[t] = i
		}
		switch types[i] {
		case tokenControl, tokenUnknown, tokenUserDefined:
			added = append(added, map[string]any{"id": i, "content": t, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": types[i] != tokenUserDefined})
		}
	}
	tok := map[string]any{"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added}
	addBOS := sp.BOS >= 0
	switch kind {
	case "llama":
		scores := make([]float64, len(tokens))
		if v, ok := f.kv["tokenizer.ggml.scores"]; ok {
			s, ok := v.Floats()
			if !ok || len(s) != len(tokens) {
				return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.scores has %d entries for %d tokens", f.path, v.Len(), len(tokens))
			}
			scores = s
		}
		addBOS = addBOS && flag("add_bos_token", true)
		prefix := flag("add_space_prefix", true)
		model := map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": spmMerges(tokens, types, scores, vocab)}
		if sp.UNK >= 0 {
			model["unk_token"] = tokens[sp.UNK]
		}
		tok["model"] = model
		norm := []any{map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"}}
		dec := []any{map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"}}
		if prefix {
			norm = append([]any{map[string]any{"type": "Prepend", "prepend": "▁"}}, norm...)
			dec = append(dec, map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0})
		}
		tok["normalizer"] = map[string]any{"type": "Sequence", "normalizers": norm}
		tok["pre_tokenizer"] = nil
		tok["decoder"] = map[string]any{"type": "Sequence", "decoders": dec}
	case "gpt2":
		mv, ok := f.kv["tokenizer.ggml.merges"]
		merges, isStr := mv.Strings()
		if !ok || !isStr {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.merges is missing or not a list of strings", f.path)
		}
		addBOS = addBOS && flag("add_bos_token", false)
		pre := "gpt-2"
		if v, ok := f.kv["tokenizer.ggml.pre"]; ok {
			pre, _ = v.Str()
		}
		// llama.cpp looks whole Llama 3 words up before merging, as the
		// tokenizer.json they come from says (ignore_merges).
		ignoreMerges := pre == "llama-bpe" || pre == "smaug-bpe"
		tok["model"] = map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignoreMerges,
			"vocab": vocab, "merges": merges}
		tok["normalizer"] = nil
		byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
		switch pre {
		case "gpt-2", "gpt2", "default", "":
			tok["pre_tokenizer"] = byteLevel
		default:
			re, ok := preTokenizerRegex[pre]
			if !ok {
				return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.pre %q is not supported (gpt-2, default, llama-bpe, smaug-bpe and qwen2 are)", f.path, pre)
			}
			byteLevel["use_regex"] = false
			tok["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": re}, "behavior": "Isolated", "invert": false},
				byteLevel}}
		}
		tok["decoder"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	default:
		return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.model %q is not supported (llama and gpt2 are)", f.path, kind)
	}
	addEOS := sp.EOS >= 0 && flag("add_eos_token", false)
	tok["post_processor"] = postProcessor(tokens, sp, addBOS, addEOS)
	raw, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tokenizer: %w", f.path, err)
	}
	return &Tokenizer{JSON: raw, Specials: sp, Tokens: tokens}, nil
}

// postProcessor is the TemplateProcessing that adds BOS before and EOS
// after each sequence as add_bos_token and add_eos_token say (nil: none).
func postProcessor(tokens []string, sp SpecialTokens, addBOS, addEOS bool) any {
	if !addBOS && !addEOS {
		return nil
	}
	specials := map[string]any{}
	special := func(id, typ int) map[string]any {
		specials[tokens[id]] = map[string]any{"id": tokens[id], "ids": []int{id}, "tokens": []string{tokens[id]}}
		return map[string]any{"SpecialToken": map[string]any{"id": tokens[id], "type_id": typ}}
	}
	seq := func(name string, typ int) []any {
		var out []any
		if addBOS {
			out = append(out, special(sp.BOS, typ))
		}
		out = append(out, map[string]any{"Sequence": map[string]any{"id": name, "type_id": typ}})
		if addEOS {
			out = append(out, special(sp.EOS, typ))
		}
		return out
	}
	return map[string]any{"type": "TemplateProcessing", "single": seq("A", 0),
		"pair": append(seq("A", 0), seq("B", 1)...), "special_tokens": specials}
}

// spmMerges derives BPE merges from SentencePiece scores as transformers'
// generate_merges does: every split of a normal token into two vocabulary
// pieces is a merge ranked by the token's score (highest first), ties kept
// in vocabulary order.
func spmMerges(tokens []string, types []int64, scores []float64, vocab map[string]int) [][2]string {
	type merge struct {
		l, r  string
		score float64
	}
	var all []merge
	for i, t := range tokens {
		if types[i] != tokenNormal && types[i] != tokenUserDefined {
			continue
		}
		var local []merge
		for j := range t {
			if j == 0 {
				continue
			}
			l, r := t[:j], t[j:]
			if _, ok := vocab[l]; !ok {
				continue
			}
			if _, ok := vocab[r]; !ok {
				continue
			}
			local = append(local, merge{l, r, scores[i]})
		}
		slices.SortStableFunc(local, func(a, b merge) int {
			return cmp.Or(cmp.Compare(vocab[a.l], vocab[b.l]), cmp.Compare(vocab[a.r], vocab[b.r]))
		})
		all = append(all, local...)
	}
	slices.SortStableFunc(all, func(a, b merge) int { return cmp.Compare(b.score, a.score) })
	out := make([][2]string, len(all))
	for i, m := range all {
		out[i] = [2]string{m.l, m.r}
	}
	return out
}

// ChatTemplate returns tokenizer.chat_template, or "" when the file has
// none.
func (f *File) ChatTemplate() string {
	if v, ok := f.kv["tokenizer.chat_template"]; ok {
		s, _ := v.Str()
		return s
	}
	return ""
}

// SpecialTokenText returns the text of the tokens tokenizer.ggml.*_token_id
// names, keyed as tokenizer_config.json keys them (bos_token, eos_token,
// unk_token, pad_token), for chat templates.
func (f *File) SpecialTokenText() map[string]string {
	out := map[string]string{}
	v, ok := f.kv["tokenizer.ggml.tokens"]
	tokens, isStr := v.Strings()
	if !ok || !isStr {
		return out
	}
	for key, name := range map[string]string{"bos_token_id": "bos_token", "eos_token_id": "eos_token",
		"unknown_token_id": "unk_token", "padding_token_id": "pad_token"} {
		if _, ok := f.kv["tokenizer.ggml."+key]; !ok {
			continue
		}
		if id, err := f.uintKey("tokenizer.ggml."+key, 0); err == nil && id < int64(len(tokens)) {
			out[name] = tokens[id]
		}
	}
	return out
}
