package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pieces renders rune ranges of s as strings.
func pieces(s string, ranges [][2]int) []string {
	rs := []rune(s)
	out := make([]string, len(ranges))
	for i, r := range ranges {
		out[i] = string(rs[r[0]:r[1]])
	}
	return out
}

// TestSplitRegexes checks the hand-written look-ahead regexes on inputs
// that exercise every alternative, against what the regexes match.
func TestSplitRegexes(t *testing.T) {
	text := "Hello world's 12345\n\n  x?!\r\nI'LL 東京"
	assert.Equal(t,
		[]string{"Hello", " world", "'s", " 12345", "\n\n ", " x", "?!", "\r", "\n", "I", "'", "LL", " 東京"},
		pieces(text, gpt2Matches([]rune(text))))
	assert.Equal(t,
		[]string{"Hello", " world", "'s", " ", "123", "45", "\n\n", " ", " x", "?!\r\n", "I", "'LL", " 東京"},
		pieces(text, llama3Matches([]rune(text), 3)))
	assert.Equal(t,
		[]string{"1", "2", "3", "  \t"},
		pieces("123  \t", llama3Matches([]rune("123  \t"), 1)))
	assert.Equal(t, []string{"a", "  ", " b"}, pieces("a   b", gpt2Matches([]rune("a   b"))))
}

// TestSplitBehaviors checks each delimiter behavior on "a--b-".
func TestSplitBehaviors(t *testing.T) {
	for _, tc := range []struct {
		behavior splitBehavior
		want     []string
	}{
		{removed, []string{"a", "b"}},
		{isolated, []string{"a", "-", "-", "b", "-"}},
		{mergedWithPrevious, []string{"a-", "-", "b-"}},
		{mergedWithNext, []string{"a", "-", "-b", "-"}},
		{contiguous, []string{"a", "--", "b", "-"}},
	} {
		n := newNormalized("a--b-", 0)
		var got []string
		for _, p := range splitRunes(n, n.runeMatches("-"), tc.behavior) {
			got = append(got, p.String())
		}
		assert.Equal(t, tc.want, got, "behavior %d", tc.behavior)
	}
}

// TestDecoders checks the decoders that the fixtures do not reach.
func TestDecoders(t *testing.T) {
	// A run of byte tokens is decoded as a whole: valid, or one U+FFFD per byte.
	assert.Equal(t, []string{"a", "é", "b", "\uFFFD", "\uFFFD"},
		byteFallbackDecoder{}.decode([]string{"a", "<0xC3>", "<0xA9>", "b", "<0xC3>", "<0x28>"}))
	assert.Equal(t, []string{"ab", "_x", "y_"},
		stripDecoder{content: '_', start: 2, stop: 1}.decode([]string{"__ab_", "___x", "y__"}))
	bl := byteLevelDecoder{alphabet: newByteLevelAlphabet()}
	assert.Equal(t, []string{"héllo \uFFFD"}, bl.decode([]string{"h", "Ã©", "llo", "Ġ", "æ"}))
	assert.Equal(t, []string{"Ā東!"}, bl.decode([]string{"Ā東", "!"}), "a token outside the alphabet keeps its own bytes")
	for _, tc := range []struct{ in, want string }{
		{"\xe6\x9ca", "\uFFFDa"},
		{"\xe6\xe6", "\uFFFD\uFFFD"},
		{"\xc3(", "\uFFFD("},
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // ED A0 would start a surrogate: three invalid subparts
		{"\x80ok", "\uFFFDok"},
		{"ok😀", "ok😀"},
	} {
		assert.Equal(t, tc.want, decodeLossy([]byte(tc.in)), "%+q", tc.in)
	}
	ms := &metaspace{replacement: '▁', scheme: prependNever}
	assert.Equal(t, []string{" a", " b"}, ms.decode([]string{"▁a", "▁b"}))
}

// TestAddedTokenFlags checks lstrip, rstrip and single_word matching.
func TestAddedTokenFlags(t *testing.T) {
	v, err := newAddedVocab([]AddedToken{
		{ID: 5, Content: "<mask>", LStrip: true},
		{ID: 6, Content: "[x]", RStrip: true},
		{ID: 7, Content: "cat", SingleWord: true},
	}, nil)
	require.NoError(t, err)
	text := "a  <mask> b[x]  c cat concat"
	var got []string
	for _, m := range v.find([]rune(text), false) {
		got = append(got, string([]rune(text)[m.lo:m.hi]))
	}
	assert.Equal(t, []string{"  <mask>", "[x]  ", "cat"}, got)

	// single_word borders as HF tokenizers 0.23.2 sees them: \w of the Rust
	// regex crate (² is not a word rune; ZWJ, combining marks and ᛮ are).
	for text, want := range map[string]bool{"cat\u00b2": true, "cat\u200d": false, "\u0301cat": false,
		"catΩ": false, "cat_": false, "cat-": true, "\u0660cat": false, "cat\u16ee": false} {
		assert.Equal(t, want, len(v.find([]rune(text), false)) > 0, "%+q", text)
	}

	_, err = newAddedVocab([]AddedToken{{ID: 1, Content: "a"}, {ID: 1, Content: "b"}}, nil)
	assert.ErrorContains(t, err, `"a" and "b" share id 1`)
}

// TestUnigramByteFallback checks that an unknown character becomes byte
// tokens spanning it when the vocabulary has them, and that runs of
// unknowns fuse otherwise.
func TestUnigramByteFallback(t *testing.T) {
	js := `{"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true, "vocab": [
	  ["<unk>", 0], ["a", -1], ["b", -2], ["ab", -2.5], ["<0xC3>", -5], ["<0xA9>", -5]]}}`
	tok, err := FromJSON("uni", []byte(js))
	require.NoError(t, err)
	enc, err := tok.Encode("abéa☃☃")
	require.NoError(t, err)
	assert.Equal(t, []string{"ab", "<0xC3>", "<0xA9>", "a", "☃☃"}, enc.Tokens)
	assert.Equal(t, []int{3, 4, 5, 1, 0}, enc.IDs)
	assert.Equal(t, [][2]int{{0, 2}, {2, 3}, {2, 3}, {3, 4}, {4, 6}}, enc.Offsets)
	assert.Equal(t, [][2]int{{0, 2}, {2, 4}, {2, 4}, {4, 5}, {5, 11}}, enc.ByteOffsets)
}

// TestByteLevelTrimOffsets checks the RoBERTa-style post-processor: CLS/SEP
// framing and offsets trimmed past the byte-level space.
func TestByteLevelTrimOffsets(t *testing.T) {
	js := `{"added_tokens": [{"id": 0, "content": "<s>", "special": true}, {"id": 1, "content": "</s>", "special": true}],
	  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
	  "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 1], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": false},
	  "decoder": {"type": "ByteLevel"},
	  "model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3, "Ġ": 4, "Ġb": 5}, "merges": ["Ġ b"]}}`
	tok, err := FromJSON("roberta", []byte(js))
	require.NoError(t, err)
	enc, err := tok.Encode("a b")
	require.NoError(t, err)
	assert.Equal(t, []string{"<s>", "a", "Ġb", "</s>"}, enc.Tokens)
	assert.Equal(t, [][2]int{{0, 0}, {0, 1}, {2, 3}, {0, 0}}, enc.Offsets)
	bos, _ := tok.BOS()
	eos, _ := tok.EOS()
	assert.Equal(t, []SpecialToken{{"<s>", 0}, {"</s>", 1}}, []SpecialToken{bos, eos})
	dec, err := tok.Decode(enc.IDs, true)
	require.NoError(t, err)
	assert.Equal(t, "a b", dec)
}

// TestUnigramViterbi checks the best-path search and unknown fusing on the
// example from the tokenizers library's documentation.
func TestUnigramViterbi(t *testing.T) {
	js := `{"model": {"type": "Unigram", "unk_id": 0, "vocab": [
	  ["<unk>", 0], ["a", 0], ["b", 0], ["c", 0], ["d", 0], ["cd", 1], ["ab", 2], ["abc", 5], ["abcd", 10]]}}`
	tok, err := FromJSON("uni", []byte(js))
	require.NoError(t, err)
	enc, err := tok.Encode("abcdacdxx")
	require.NoError(t, err)
	assert.Equal(t, []string{"abcd", "a", "cd", "xx"}, enc.Tokens)
	assert.Equal(t, []int{8, 1, 5, 0}, enc.IDs)
	assert.Equal(t, [][2]int{{0, 4}, {4, 5}, {5, 7}, {7, 9}}, enc.Offsets)
}

// TestLlama3PreTokenizer parses Llama 3's pre-tokenizer (a look-ahead
// Split regex, then ByteLevel without its own regex) and checks the words
// it produces, in byte-level runes.
func TestLlama3PreTokenizer(t *testing.T) {
	js := `{"type": "Sequence", "pretokenizers": [
	  {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
	   "behavior": "Isolated", "invert": false},
	  {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}`
	pre, err := parsePreTokenizer([]byte(js))
	require.NoError(t, err)
	var words []string
	for _, w := range pre.split(newNormalized("Hello world 12345 é", 0)) {
		words = append(words, w.String())
	}
	assert.Equal(t, []string{"Hello", "Ġworld", "Ġ", "123", "45", "ĠÃ©"}, words)
}

// TestNormalizedAddedToken checks that an added token marked normalized is
// sought in normalized text, its pattern normalized too.
func TestNormalizedAddedToken(t *testing.T) {
	js := `{"added_tokens": [{"id": 1, "content": "<MASK>", "normalized": true}],
	  "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "WhitespaceSplit"},
	  "model": {"type": "BPE", "vocab": {"a": 0, "<MASK>": 1}, "merges": []}}`
	tok, err := FromJSON("lower", []byte(js))
	require.NoError(t, err)
	enc, err := tok.Encode("A <Mask> a")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "<MASK>", "a"}, enc.Tokens)
	assert.Equal(t, []int{0, 1, 0}, enc.IDs)
	assert.Equal(t, [][2]int{{0, 1}, {2, 8}, {9, 10}}, enc.Offsets)
}
