package train

import "encoding/json"

// byteTokenizerJSON returns a tokenizer.json for a byte-level model: a
// byte-level BPE without merges whose vocabulary is GPT-2's byte-to-
// character table, so that every byte of UTF-8 text is one token with the
// byte's value as id (0–255). The demo saves it beside its model so that
// the directory loads like any Hugging Face checkpoint.
func byteTokenizerJSON() ([]byte, error) {
	vocab := make(map[string]int, 256)
	for b, r := range byteChars() {
		vocab[string(r)] = b
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	return json.MarshalIndent(map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   []any{},
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": nil,
		"decoder":        byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{}},
	}, "", "  ")
}

// byteChars is GPT-2's bytes_to_unicode table: printable bytes stand for
// themselves, the others for code points from 256 up, in byte order.
func byteChars() []rune {
	out := make([]rune, 256)
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}
