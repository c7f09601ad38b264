package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nmtMappings are entries of SentencePiece's nmt_nfkc charsmap (the one
// T5 and FLAN-T5 ship), as the spm_precompiled and tokenizers test suites
// state them, plus a few more NFKC mappings of the same kind.
var nmtMappings = map[string]string{
	"\uFB01":       "fi", // ﬁ
	"𝔾":            "G",
	"𝕠":            "o",
	"𝕕":            "d",
	"𝕞":            "m",
	"𝕣":            "r",
	"𝕟":            "n",
	"𝕚":            "i",
	"𝕘":            "g",
	"\u200D":       " ",
	"\u0627\u0653": "\u0622", // alef + madda above composes to alef with madda: a two-rune key
	"\u0E33":       "\u0E4D\u0E32",
	"ｆ":            "f",
	"１":            "1",
	"２":            "2",
	"３":            "3",
	"™":            "TM",
	"\x1e":         "",
	"e\u0301":      "é",
	"\r":           " ",
	"\n":           " ",
}

// TestPrecompiledLookup checks the double-array search: keys found, a
// missing key, a NUL ending the key, and the shortest key winning when
// several are prefixes of the input.
func TestPrecompiledLookup(t *testing.T) {
	p, err := parsePrecompiled(buildCharsmap(t, map[string]string{"a": "x", "ab": "y", "abc": "z", "b": ""}))
	require.NoError(t, err)
	for _, tc := range []struct {
		key  string
		want string
		ok   bool
	}{
		{"a", "x", true},
		{"ab", "x", true}, // shortest prefix first, as Precompiled.transform takes it
		{"abc", "x", true},
		{"b", "", true},
		{"c", "", false},
		{"", "", false},
		{"\x00a", "", false},
	} {
		got, ok := p.lookup([]byte(tc.key))
		assert.Equal(t, tc.ok, ok, "%q", tc.key)
		assert.Equal(t, tc.want, got, "%q", tc.key)
	}
}

// TestPrecompiledNormalize checks the normalized text and each rune's
// span of the input against the tokenizers library's Precompiled
// normalizer, derived from its algorithm: whole graphemes under 6 bytes
// first, then single runes, and its change lists' alignments.
func TestPrecompiledNormalize(t *testing.T) {
	p, err := parsePrecompiled(buildCharsmap(t, nmtMappings))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, in, want string
		spans          []span // nil: not checked
	}{
		{"full-width", "ｆ１２３x", "f123x", []span{{0, 3}, {3, 6}, {6, 9}, {9, 12}, {12, 13}}},
		// The tokenizers library's own golden case for nmt_nfkc: one span per rune.
		{"math letters", "𝔾𝕠𝕠𝕕 𝕞𝕠𝕣𝕟𝕚𝕟𝕘", "Good morning", []span{{0, 4}, {4, 8}, {8, 12}, {12, 16}, {16, 17},
			{17, 21}, {21, 25}, {25, 29}, {29, 33}, {33, 37}, {37, 41}, {41, 45}}},
		{"expansion", "aﬁb", "afib", []span{{0, 1}, {1, 4}, {1, 4}, {4, 5}}},
		// The library's expansion_followed_by_removal case: "M" then stands
		// for the removed rune.
		{"expansion then removal", "™\x1eg", "TMg", []span{{0, 3}, {3, 4}, {4, 5}}},
		// A removal before any output records nothing; later runes shift.
		{"removal first", "\x1eab", "ab", []span{{0, 1}, {1, 2}}},
		{"two-rune key", "e\u0301x", "éx", []span{{0, 1}, {3, 4}}},
		{"two-rune key, Arabic", "\u0627\u0653", "\u0622", []span{{0, 2}}},
		// A 5-byte grapheme whose first rune is a key is replaced whole.
		{"short grapheme", "ｆ\u0301", "f", []span{{0, 3}}},
		// A grapheme of 6 bytes or more goes rune by rune.
		{"long grapheme", "ﬁ\u0301\u0301", "fi\u0301\u0301", []span{{0, 3}, {0, 3}, {3, 5}, {5, 7}}},
		{"CR LF is one grapheme", "a\r\nb", "a b", []span{{0, 1}, {1, 2}, {3, 4}}},
		{"LF alone", "a\nb", "a b", nil},
		{"ZWJ", "x\u200Dy", "x y", nil},
		{"Thai sara am", "คำ", "ค\u0E4D\u0E32", []span{{0, 3}, {3, 6}, {3, 6}}},
		// The tokenizers library's failure-mode case: marks stay, sara am decomposes.
		{"Thai sentence", "เขาไม่ได้พูดสักคำ", "เขาไม\u0E48ได\u0E49พ\u0E39ดส\u0E31กค\u0E4Dา", nil},
		{"NUL is no key", "a\x00b", "a\x00b", []span{{0, 1}, {1, 2}, {2, 3}}},
		{"untouched", "plain text", "plain text", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNormalized(tc.in, 0)
			p.normalize(n)
			assert.Equal(t, tc.want, n.String())
			if tc.spans != nil {
				assert.Equal(t, tc.spans, n.spans)
			}
		})
	}
}

// TestPrecompiledRejectsBadCharsmaps checks that a malformed charsmap
// fails to load with an error naming the problem.
func TestPrecompiledRejectsBadCharsmaps(t *testing.T) {
	good := charsmapBytes(t, map[string]string{"a": "x", "b": "yy"})
	size := binary.LittleEndian.Uint32(good)
	enc := base64.StdEncoding.EncodeToString
	withSize := func(s uint32) string {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b, s)
		return enc(b)
	}
	for _, tc := range []struct{ name, charsmap, want string }{
		{"not base64", "@@@", "not base64"},
		{"empty", "", "too few"},
		{"size not a multiple of 4", withSize(size - 1), "not a positive multiple of 4"},
		{"zero size", withSize(0), "not a positive multiple of 4"},
		{"size past the end", withSize(size + 4096), "exceeds"},
		{"blob not UTF-8", enc(append(append([]byte(nil), good...), 0xff)), "not valid UTF-8"},
		{"value past the blob", enc(good[:4+size]), `key "b" has no valid replacement`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePrecompiled(tc.charsmap)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	js, err := json.Marshal(map[string]any{"model": map[string]any{"type": "Unigram", "vocab": [][2]any{{"a", 0.0}}},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Precompiled", "precompiled_charsmap": "@@@"}}}})
	require.NoError(t, err)
	_, err = FromJSON("t5.json", js)
	assert.ErrorContains(t, err, "t5.json: normalizer Sequence[0]: normalizer Precompiled: precompiled_charsmap is not base64")
}

// t5JSON builds a miniature T5 tokenizer.json: Precompiled normalizer,
// WhitespaceSplit + Metaspace, Unigram, and an EOS template.
func t5JSON(t testing.TB) []byte {
	t.Helper()
	js, err := json.Marshal(map[string]any{
		"added_tokens": []map[string]any{
			{"id": 0, "content": "<pad>", "special": true},
			{"id": 1, "content": "</s>", "special": true},
			{"id": 2, "content": "<unk>", "special": true},
		},
		"normalizer": map[string]any{"type": "Precompiled", "precompiled_charsmap": buildCharsmap(t, nmtMappings)},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "WhitespaceSplit"},
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
			"special_tokens": map[string]any{"</s>": map[string]any{"id": "</s>", "ids": []int{1}, "tokens": []string{"</s>"}}}},
		"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"model": map[string]any{"type": "Unigram", "unk_id": 2, "vocab": [][2]any{
			{"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}, {"▁", -2.0}, {"f", -5.0}, {"i", -5.0}, {"1", -5.0}, {"2", -5.0},
			{"▁fi", -1.0}, {"▁12", -1.0}, {"TM", -1.0}, {"▁Good", -1.0}}},
	})
	require.NoError(t, err)
	return js
}

// TestPrecompiledTokenizer runs the Precompiled normalizer inside a whole
// T5-style pipeline: token offsets point at the full-width input runes.
func TestPrecompiledTokenizer(t *testing.T) {
	tok, err := FromJSON("t5", t5JSON(t))
	require.NoError(t, err)
	enc, err := tok.Encode("ﬁ  １２ ™")
	require.NoError(t, err)
	assert.Equal(t, []string{"▁fi", "▁12", "▁", "TM", "</s>"}, enc.Tokens)
	assert.Equal(t, []int{8, 9, 3, 10, 1}, enc.IDs)
	assert.Equal(t, [][2]int{{0, 1}, {3, 5}, {6, 7}, {6, 7}, {0, 0}}, enc.Offsets)
	assert.Equal(t, [][2]int{{0, 3}, {5, 11}, {12, 15}, {12, 15}, {0, 0}}, enc.ByteOffsets)
	dec, err := tok.Decode(enc.IDs, true)
	require.NoError(t, err)
	assert.Equal(t, "fi 12 TM", dec)
}
