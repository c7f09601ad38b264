package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// graphemeEnds returns the end of every grapheme cluster of s, in runes.
func graphemeEnds(s string) []int {
	rs := []rune(s)
	var ends []int
	for i := 0; i < len(rs); {
		i = graphemeEnd(rs, i)
		ends = append(ends, i)
	}
	return ends
}

// TestGraphemeRules checks one case per rule of UAX #29.
func TestGraphemeRules(t *testing.T) {
	for _, tc := range []struct {
		rule, in string
		ends     []int
	}{
		{"GB3 CR LF", "a\r\n\n", []int{1, 3, 4}},
		{"GB4/5 controls", "a\x01\u0301", []int{1, 2, 3}},
		{"GB6-8 Hangul", "\u1100\u1161\u11a8\uac00\u11a8x", []int{3, 5, 6}},
		{"GB9 extend and ZWJ", "e\u0301\u0308\u200dx", []int{4, 5}},
		{"GB9a spacing mark", "क\u0903x", []int{2, 3}},
		{"GB9b prepend", "\u0600\u0661x", []int{2, 3}},
		{"GB9c conjunct", "क\u094dष\u094d", []int{4}},
		{"GB11 emoji ZWJ", "👨\u200d👩\u200d👧x", []int{5, 6}},
		{"GB11 needs a pictograph", "a\u200d👩", []int{2, 3}},
		{"GB12/13 flags", "🇺🇸🇺", []int{2, 3}},
		{"GB999", "ab", []int{1, 2}},
	} {
		assert.Equal(t, tc.ends, graphemeEnds(tc.in), "%s: %+q", tc.rule, tc.in)
	}
}

// TestGraphemeGolden checks cluster boundaries of mixed strings against
// the \X of Python's regex module, as gen_grapheme_tables.py recorded them.
func TestGraphemeGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "graphemes.json"))
	require.NoError(t, err)
	var cases []struct {
		Text string `json:"text"`
		Ends []int  `json:"ends"`
	}
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		assert.Equal(t, c.Ends, graphemeEnds(c.Text), "%+q", c.Text)
	}
}
