package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode"
)

// bertNormalizer is BERT's text cleanup (the BertNormalizer of
// tokenizer.json), its steps in the tokenizers library's order.
type bertNormalizer struct {
	cleanText          bool // drop NUL, U+FFFD and control runes; white space becomes ' '
	handleChineseChars bool // put spaces around CJK ideographs so each is its own word
	stripAccents       bool // NFD, then drop nonspacing marks
	lowercase          bool
}

// parseBertNormalizer reads a BertNormalizer. Absent flags take the
// library's defaults (all on); strip_accents null or absent follows
// lowercase, as in the library.
func parseBertNormalizer(raw json.RawMessage) (normalizer, error) {
	c := struct {
		CleanText          *bool `json:"clean_text"`
		HandleChineseChars *bool `json:"handle_chinese_chars"`
		StripAccents       *bool `json:"strip_accents"`
		Lowercase          *bool `json:"lowercase"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("normalizer BertNormalizer: %w", err)
	}
	flag := func(b *bool, def bool) bool {
		if b == nil {
			return def
		}
		return *b
	}
	b := bertNormalizer{
		cleanText:          flag(c.CleanText, true),
		handleChineseChars: flag(c.HandleChineseChars, true),
		lowercase:          flag(c.Lowercase, true),
	}
	b.stripAccents = flag(c.StripAccents, b.lowercase)
	return b, nil
}

func (b bertNormalizer) normalize(n *normalized) {
	if b.cleanText {
		n.mapRunes(func(dst []rune, r rune) []rune {
			switch {
			case isBertControl(r):
				return dst
			case isSpace(r):
				return append(dst, ' ')
			}
			return append(dst, r)
		})
	}
	if b.handleChineseChars {
		n.mapRunes(func(dst []rune, r rune) []rune {
			if isChineseChar(r) {
				return append(dst, ' ', r, ' ')
			}
			return append(dst, r)
		})
	}
	if b.stripAccents {
		unicodeNormalizer{form: "NFD"}.normalize(n)
		n.mapRunes(func(dst []rune, r rune) []rune {
			if unicode.Is(hfNonspacingMark, r) {
				return dst
			}
			return append(dst, r)
		})
	}
	if b.lowercase {
		lowercaseNormalizer{}.normalize(n)
	}
}

// isBertControl reports whether clean_text removes r: NUL, U+FFFD and the
// categories Cc, Cf and Co of the unicode_categories crate, except tab,
// newline and carriage return, which are white space to BERT.
func isBertControl(r rune) bool { return unicode.Is(hfBertControl, r) }

// isChineseChar reports whether r is in one of the CJK ideograph blocks
// BERT isolates (not Hangul, Hiragana or Katakana, which are written with
// spaces between words).
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// stripAccentsNormalizer is the StripAccents normalizer: it drops every
// combining mark (Mn, Mc, Me). It removes accents only from text already
// decomposed, which is why tokenizer.json files put NFD before it.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(n *normalized) {
	n.mapRunes(func(dst []rune, r rune) []rune {
		if unicode.Is(hfMark, r) {
			return dst
		}
		return append(dst, r)
	})
}

// splitBert is the BertPreTokenizer: words are split at white space
// (dropped), then every punctuation rune becomes a word of its own.
func splitBert(n *normalized) []*normalized {
	var out []*normalized
	for _, w := range splitRunes(n, eachMatch(n, isSpace), removed) {
		out = append(out, splitRunes(w, eachMatch(w, isBertPunct), isolated)...)
	}
	return out
}

// isBertPunct reports whether r is punctuation to BERT: any ASCII
// punctuation (including symbols such as $, + and ~) or any rune of a
// punctuation category of the unicode_categories crate.
func isBertPunct(r rune) bool { return unicode.Is(hfBertPunct, r) }
