package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnicodeForms checks the four normalization forms against values
// computed with Python's unicodedata.normalize.
func TestUnicodeForms(t *testing.T) {
	for _, tc := range []struct{ form, in, want string }{
		{"NFKC", "ﬁ", "fi"},
		{"NFKC", "Ｈｅｌｌｏ", "Hello"},
		{"NFKC", "e\u0301", "é"},
		{"NFKC", "①²", "12"},
		{"NFKC", "\u1100\u1161\u11a8", "각"},
		{"NFKC", "a\u0323\u0302", "ậ"},
		{"NFKC", "a\u0302\u0323", "ậ"},
		{"NFKC", "Résumé 東京 😀", "Résumé 東京 😀"},
		{"NFC", "ﬁe\u0301", "ﬁé"},
		{"NFD", "é각", "e\u0301\u1100\u1161\u11a8"},
		{"NFKD", "ﬁé", "fie\u0301"},
		{"NFC", "\u212b", "Å"}, // singleton decomposition, never recomposed
	} {
		n := newNormalized(tc.in, 0)
		unicodeNormalizer{form: tc.form}.normalize(n)
		assert.Equal(t, tc.want, n.String(), "%s(%q)", tc.form, tc.in)
		assert.Len(t, n.spans, n.len())
	}
}

// TestUnicodeFormsGolden checks all four forms on cases that
// gen_unicode_tables.py normalized with Python's unicodedata (Unicode 14),
// except those with runes that HF's older tables leave undecomposed or
// give combining class 0.
func TestUnicodeFormsGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "unicode_forms.json"))
	require.NoError(t, err)
	var cases []map[string]string
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	skipped := 0
	for _, c := range cases {
		if strings.ContainsFunc(c["in"], func(r rune) bool {
			return unicode.Is(hfNoDecomposition, r) || unicodeCombiningClass(r) != combiningClass(r)
		}) {
			skipped++
			continue
		}
		for _, form := range []string{"NFC", "NFD", "NFKC", "NFKD"} {
			n := newNormalized(c["in"], 0)
			unicodeNormalizer{form: form}.normalize(n)
			assert.Equal(t, c[form], n.String(), "%s(%+q)", form, c["in"])
		}
	}
	assert.Less(t, skipped, len(cases)/10)
}
