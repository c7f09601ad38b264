package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bertJSON is a miniature bert-base-uncased tokenizer.json: BertNormalizer,
// BertPreTokenizer, WordPiece (max_input_chars_per_word lowered to 9 so a
// short word exceeds it), the [CLS] $A [SEP] template and the WordPiece
// decoder.
const bertJSON = `{
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "special": true},
    {"id": 1, "content": "[UNK]", "special": true},
    {"id": 2, "content": "[CLS]", "special": true},
    {"id": 3, "content": "[SEP]", "special": true},
    {"id": 4, "content": "[MASK]", "special": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 9,
    "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "un": 5, "##aff": 6, "##able": 7, "the": 8,
              "##s": 9, ",": 10, "!": 11, "中": 12, "hello": 13, "##ing": 14, "a": 15, "##a": 16, "unaff": 17}}
}`

// TestWordPieceTokenizer encodes through the whole BERT pipeline; every
// expected token is derived by hand from greedy longest-match-first.
func TestWordPieceTokenizer(t *testing.T) {
	tok, err := FromJSON("bert", []byte(bertJSON))
	require.NoError(t, err)
	// Rune indices: "Unaffable" 0-8, "the" 10-12, "Héllo" 14-18, "," 19, "中" 21, "!" 22,
	// "xyz" 24-26, "aaaaaa" 28-33, 10 × "a" 35-44; NUL and ZWSP (Cf) vanish.
	enc, err := tok.Encode("Unaffable the Héllo, 中! xyz aaaaaa aaaaaaaaaa\x00\u200b")
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "unaff", "##able", "the", "hello", ",", "中", "!", "[UNK]",
		"a", "##a", "##a", "##a", "##a", "##a", "[UNK]", "[SEP]"}, enc.Tokens)
	assert.Equal(t, []int{2, 17, 7, 8, 13, 10, 12, 11, 1, 15, 16, 16, 16, 16, 16, 1, 3}, enc.IDs)
	assert.Equal(t, [][2]int{{0, 0}, {0, 5}, {5, 9}, {10, 13}, {14, 19}, {19, 20}, {21, 22}, {22, 23}, {24, 27},
		{28, 29}, {29, 30}, {30, 31}, {31, 32}, {32, 33}, {33, 34}, {35, 45}, {0, 0}}, enc.Offsets)
	cls, ok := tok.BOS()
	require.True(t, ok)
	assert.Equal(t, SpecialToken{"[CLS]", 2}, cls)
	unk, ok := tok.UNK()
	require.True(t, ok)
	assert.Equal(t, SpecialToken{"[UNK]", 1}, unk)

	dec, err := tok.Decode(enc.IDs, true)
	require.NoError(t, err)
	assert.Equal(t, "unaffable the hello, 中! aaaaaa", dec)
	dec, err = tok.Decode(enc.IDs, false)
	require.NoError(t, err)
	assert.Equal(t, "[CLS] unaffable the hello, 中! [UNK] aaaaaa [UNK] [SEP]", dec)
}

// TestWordPieceGreedy checks the model alone: the longest piece wins at
// each step (not the best split overall), an uncoverable rest turns the
// whole word into [UNK], and the length limit counts runes.
func TestWordPieceGreedy(t *testing.T) {
	m, err := parseWordPiece([]byte(`{"unk_token": "<unk>", "max_input_chars_per_word": 4,
	  "vocab": {"<unk>": 0, "ab": 1, "abc": 2, "##d": 3, "##cd": 4, "é": 5, "##é": 6, "a": 7}}`))
	require.NoError(t, err)
	for _, tc := range []struct {
		word string
		want []modelToken
	}{
		{"abcd", []modelToken{{2, "abc", 0, 3}, {3, "##d", 3, 4}}},
		{"abce", []modelToken{{0, "<unk>", 0, 4}}}, // "abc" matches, then "e" cannot
		{"éé", []modelToken{{5, "é", 0, 2}, {6, "##é", 2, 4}}},
		{"éééé", []modelToken{{5, "é", 0, 2}, {6, "##é", 2, 4}, {6, "##é", 4, 6}, {6, "##é", 6, 8}}},
		{"ééééé", []modelToken{{0, "<unk>", 0, 10}}}, // 5 runes > 4
		{"x", []modelToken{{0, "<unk>", 0, 1}}},
	} {
		got, err := m.tokenize(tc.word)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.word)
	}
	_, err = parseWordPiece([]byte(`{"vocab": {"[UNK]": 0}, "max_input_chars_per_word": -1}`))
	assert.ErrorContains(t, err, "max_input_chars_per_word -1 is negative")
}

// TestBertNormalizer checks each step and the strip_accents default.
func TestBertNormalizer(t *testing.T) {
	for _, tc := range []struct {
		name, config, in, want string
	}{
		{"defaults", `{}`, "Héllo\tWÖRLD\x00\u200b\uFFFD中文!", "hello world 中  文 !"},
		{"strip follows lowercase off", `{"lowercase": false}`, "Héllo 中", "Héllo  中 "},
		{"keep accents", `{"strip_accents": false}`, "Héllo", "héllo"},
		{"strip without lowercase", `{"strip_accents": true, "lowercase": false}`, "Héllo", "Hello"},
		{"no cleaning", `{"clean_text": false, "handle_chinese_chars": false}`, "a\tb\x01中", "a\tb\x01中"},
		{"spacing marks stay", `{}`, "दुःख", "दःख"}, // the vowel sign u (Mn) goes, the visarga (Mc) stays
		{"other white space", `{}`, "a\u00a0b\u3000c\u0085d", "a b cd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			norm, err := parseBertNormalizer([]byte(tc.config))
			require.NoError(t, err)
			n := newNormalized(tc.in, 0)
			norm.normalize(n)
			assert.Equal(t, tc.want, n.String())
		})
	}
	// Inserted spaces and decomposed runes keep the span of their rune.
	norm, err := parseBertNormalizer([]byte(`{}`))
	require.NoError(t, err)
	n := newNormalized("É中", 0)
	norm.normalize(n)
	assert.Equal(t, "e 中 ", n.String())
	assert.Equal(t, []span{{0, 2}, {2, 5}, {2, 5}, {2, 5}}, n.spans)
}

// TestBertPreTokenizer checks the split at white space and around every
// punctuation rune, ASCII symbols included.
func TestBertPreTokenizer(t *testing.T) {
	var got []string
	for _, w := range splitBert(newNormalized("Hello,  world!! $5 a-b «x» 3.14", 0)) {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{"Hello", ",", "world", "!", "!", "$", "5", "a", "-", "b", "«", "x", "»", "3", ".", "14"}, got)
}

// TestStripAccents checks the StripAccents normalizer after NFD.
func TestStripAccents(t *testing.T) {
	norm, err := parseNormalizer([]byte(`{"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]}`))
	require.NoError(t, err)
	n := newNormalized("Crème Brûlée दुःख", 0)
	norm.normalize(n)
	assert.Equal(t, "creme brulee दख", n.String()) // every mark goes, the visarga (Mc) too
}

// TestWordPieceDecoder checks prefix gluing, the leading space and
// cleanup, and that the first token keeps its prefix.
func TestWordPieceDecoder(t *testing.T) {
	toks := []string{"##x", "hello", "##s", ".", "don", "'", "t", "do", "not", "!"}
	assert.Equal(t, "##x hellos. don ' t do not!",
		joinDecoded(wordPieceDecoder{prefix: "##", cleanup: true}, toks))
	assert.Equal(t, "##x hellos . don ' t do not !",
		joinDecoded(wordPieceDecoder{prefix: "##", cleanup: false}, toks))
	assert.Equal(t, "I'm here, don't go", cleanupTokenization("I 'm here , do not go"))
}

// joinDecoded runs a decoder and concatenates its output.
func joinDecoded(d decoder, toks []string) string {
	var s string
	for _, t := range d.decode(toks) {
		s += t
	}
	return s
}
