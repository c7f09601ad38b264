package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// llama2JSON is a miniature Llama 2 / Mistral tokenizer.json: Prepend and
// Replace normalizers, no pre-tokenizer, BPE with byte fallback and fused
// unknowns, a BOS template and the Replace/ByteFallback/Fuse/Strip
// decoder chain.
const llama2JSON = `{
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true},
    {"id": 1, "content": "<s>", "special": true},
    {"id": 2, "content": "</s>", "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
  ]},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"},
    {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}
  ]},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xC3>": 4, "<0xA9>": 5,
              "▁": 6, "h": 7, "i": 8, "▁h": 9, "▁hi": 10, "!": 11},
    "merges": [["▁", "h"], ["▁h", "i"]]}
}`

// TestSentencePieceByteFallback covers byte fallback, fused unknowns,
// added tokens inside text, the BOS template and the decoder chain.
func TestSentencePieceByteFallback(t *testing.T) {
	tok, err := FromJSON("llama2", []byte(llama2JSON))
	require.NoError(t, err)

	for _, tc := range []struct {
		text    string
		ids     []int
		tokens  []string
		offsets [][2]int
	}{
		{"hi é!\n", []int{1, 10, 6, 4, 5, 11, 3},
			[]string{"<s>", "▁hi", "▁", "<0xC3>", "<0xA9>", "!", "<0x0A>"},
			[][2]int{{0, 0}, {0, 2}, {2, 3}, {3, 4}, {3, 4}, {4, 5}, {5, 6}}},
		{"hi ☃☃", []int{1, 10, 6, 0},
			[]string{"<s>", "▁hi", "▁", "<unk>"},
			[][2]int{{0, 0}, {0, 2}, {2, 3}, {3, 5}}},
		{"</s>hi", []int{1, 2, 10},
			[]string{"<s>", "</s>", "▁hi"},
			[][2]int{{0, 0}, {0, 4}, {4, 6}}},
		{"", []int{1}, []string{"<s>"}, [][2]int{{0, 0}}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			enc, err := tok.Encode(tc.text)
			require.NoError(t, err)
			assert.Equal(t, tc.ids, enc.IDs)
			assert.Equal(t, tc.tokens, enc.Tokens)
			assert.Equal(t, tc.offsets, enc.Offsets)
		})
	}

	plain, err := tok.EncodeNoSpecial("hi")
	require.NoError(t, err)
	assert.Equal(t, []int{10}, plain.IDs)

	dec, err := tok.Decode([]int{1, 10, 6, 4, 5, 11, 3}, true)
	require.NoError(t, err)
	assert.Equal(t, "hi é!\n", dec)
	dec, err = tok.Decode([]int{1, 10, 6, 4, 5, 11, 3}, false)
	require.NoError(t, err)
	assert.Equal(t, "<s> hi é!\n", dec)
	dec, err = tok.Decode([]int{10, 4, 11}, true) // a lone lead byte is invalid UTF-8
	require.NoError(t, err)
	assert.Equal(t, "hi\uFFFD!", dec)

	_, err = tok.Decode([]int{10, 99}, true)
	assert.ErrorContains(t, err, "id 99 at position 1")
	_, err = tok.Encode("\xff")
	assert.ErrorContains(t, err, "not valid UTF-8")

	bos, ok := tok.BOS()
	require.True(t, ok)
	assert.Equal(t, SpecialToken{Token: "<s>", ID: 1}, bos)
	unk, ok := tok.UNK()
	require.True(t, ok)
	assert.Equal(t, SpecialToken{Token: "<unk>", ID: 0}, unk)
	_, ok = tok.EOS()
	assert.False(t, ok)
	assert.Equal(t, 12, tok.VocabSize())
	id, ok := tok.TokenToID("▁hi")
	assert.True(t, ok)
	assert.Equal(t, 10, id)
	s, ok := tok.IDToToken(2)
	assert.True(t, ok)
	assert.Equal(t, "</s>", s)
}

// TestLoadDirReadsTokenizerConfig checks that tokenizer_config.json
// declares the special tokens, as strings or AddedToken objects.
func TestLoadDirReadsTokenizerConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(llama2JSON), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"),
		[]byte(`{"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}, "pad_token": null}`), 0o644))
	tok, err := LoadDir(dir)
	require.NoError(t, err)
	eos, ok := tok.EOS()
	require.True(t, ok)
	assert.Equal(t, SpecialToken{Token: "</s>", ID: 2}, eos)
	_, ok = tok.PAD()
	assert.False(t, ok)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"eos_token": "<eos>"}`), 0o644))
	_, err = LoadDir(dir)
	assert.ErrorContains(t, err, `eos_token "<eos>" is not in the vocabulary`)
}

// TestUnsupportedComponentsAreNamed checks that a tokenizer.json using a
// component this package does not implement is refused naming it.
func TestUnsupportedComponentsAreNamed(t *testing.T) {
	base := `{"added_tokens": [], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}`
	for _, tc := range []struct{ name, json, want string }{
		{"normalizer", base + `, "normalizer": {"type": "Weird"}}`, `unsupported normalizer type "Weird"`},
		{"nested normalizer", base + `, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Weird"}]}}`, `normalizer Sequence[1]: unsupported normalizer type "Weird"`},
		{"empty charsmap", base + `, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}}`, `normalizer Precompiled: precompiled_charsmap has 0 bytes`},
		{"pre-tokenizer", base + `, "pre_tokenizer": {"type": "UnicodeScripts"}}`, `unsupported pre_tokenizer type "UnicodeScripts"`},
		{"split regex", base + `, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a(b"}, "behavior": "Isolated"}}`, `unsupported Regex pattern "a(b"`},
		{"decoder", base + `, "decoder": {"type": "CTC"}}`, `unsupported decoder type "CTC"`},
		{"post-processor", base + `, "post_processor": {"type": "Weird"}}`, `unsupported post_processor type "Weird"`},
		{"model", `{"model": {"type": "Weird", "vocab": {}}}`, `unsupported model type "Weird"`},
		{"WordPiece without unk", `{"model": {"type": "WordPiece", "vocab": {"a": 0}}}`, `model WordPiece: unk_token "[UNK]" is not in the vocab`},
		{"dropout", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}}`, "dropout"},
		{"merge not in vocab", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a"]}}`, `merges[0] ("a", "a")`},
		{"missing unk", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}`, `unk_token "<unk>" is not in the vocab`},
		{"bad JSON", `{"model": `, "bad JSON"},
		{"no model", `{}`, "model: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromJSON("x.json", []byte(tc.json))
			require.Error(t, err)
			assert.ErrorContains(t, err, "x.json")
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestHostileRegexFails checks that a Split regex with catastrophic
// backtracking makes Encode fail naming the pattern (after regexTimeout)
// instead of hanging.
func TestHostileRegexFails(t *testing.T) {
	tok, err := FromJSON("x.json", []byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
		"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": false}}`))
	require.NoError(t, err)
	_, err = tok.Encode(strings.Repeat("a", 64) + "b")
	require.Error(t, err)
	assert.ErrorContains(t, err, "x.json: encode: regex")
	assert.ErrorContains(t, err, "(a+)+$")
}

// TestRegexPatterns checks Oniguruma-only syntax and Unicode 16 classes in
// Split regexes, and the rewriting that makes regexp2 match them.
func TestRegexPatterns(t *testing.T) {
	for _, tc := range []struct {
		expr, text string
		want       []string
	}{
		{`\x{10D40}+|\s+`, "𐵀𐵀𐵁 x", []string{"𐵀𐵀", " "}},
		{`\p{N}+`, "a𐵀𐵁12b", []string{"𐵀𐵁12"}},                 // Garay digits (Unicode 16) are \p{N}
		{`[^\s\p{L}\p{N}]+`, "𐗀!?𐵀", []string{"!?"}},           // Todhri letter and Garay digit are not "other"
		{`\P{L}+`, "ab𐗀1 c", []string{"1 "}},                   // negated escape outside a class
		{`\s+(?!\S)|\s+`, "a   b", []string{"  ", " "}},        // look-ahead
		{`(?<=\p{Ll})(?=\p{Lu})|\d`, "aB1", []string{"", "1"}}, // look-behind; an empty match counts
	} {
		t.Run(tc.expr, func(t *testing.T) {
			re, err := compileRegex(tc.expr)
			require.NoError(t, err)
			rs := []rune(tc.text)
			got := []string{}
			for _, m := range regexRunes(re, rs) {
				got = append(got, string(rs[m[0]:m[1]]))
			}
			assert.Equal(t, tc.want, got)
		})
	}
	for _, expr := range []string{`[\p{L}&&[^a]]`, `[a[bc]]`} {
		_, err := compileRegex(expr)
		assert.ErrorContains(t, err, "not supported", expr)
	}
}

// TestAddedTokenIDsAsHF checks that added tokens take the ids HF tokenizers
// 0.23.2 gives them on load (its output for this file), not the declared
// ones: the model's id when it knows the content, else the next free id
// from the vocabulary's length; a repeated content is dropped.
func TestAddedTokenIDsAsHF(t *testing.T) {
	tok, err := FromJSON("x.json", []byte(`{"added_tokens": [
		{"id": 99, "content": "<x>", "special": true}, {"id": 0, "content": "a"},
		{"id": 50, "content": "<y>", "special": true}, {"id": 7, "content": "<x>", "special": true}],
		"model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1, "c": 5}, "unk_token": "b"}}`))
	require.NoError(t, err)
	enc, err := tok.Encode("<x> a <y> c")
	require.NoError(t, err)
	assert.Equal(t, []int{3, 1, 0, 1, 4, 1}, enc.IDs)
	assert.Equal(t, []string{"<x>", "b", "a", "b", "<y>", "b"}, enc.Tokens)
	dec, err := tok.Decode([]int{3, 4, 0}, false)
	require.NoError(t, err)
	assert.Equal(t, "<x> <y> a", dec)
}
