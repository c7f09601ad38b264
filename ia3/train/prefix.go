package train

import (
	"slices"
	"unicode/utf8"
)

// Prefix encoding. Tokenising a whole line costs a few hundred bytes of
// memory per byte of text, most of which truncation then throws away. An
// example keeps at most maxLen ids, so encodeHead tokenises growing
// prefixes of the text instead and stops once two prefixes agree on every
// id that can be kept.
const (
	// headMargin is how many ids past the kept ones a prefix must yield
	// before it is trusted: the ids at a prefix's cut may differ from the
	// whole text's (a word or merge cut in two), the earlier ones do not.
	headMargin = 16
	// headBytesPerID is the first guess of text bytes per id.
	headBytesPerID = 8
	// headMinBytes is the shortest prefix tried; shorter texts are
	// encoded whole.
	headMinBytes = 4096
)

// encodeHead returns ids and trailing such that truncate(ids, trailing, n)
// equals truncate of the whole text's encoding, and ids[:n] equals the
// first n ids of the whole text's encoding when that has more than n ids:
// the whole encoding when the text is short, else the first n ids (the
// special tokens the tokenizer puts first included) followed by the
// trailing special tokens. Memory is bounded by a few times the text that
// the first n ids cover, not by the text's length.
func encodeHead(enc encoder, text string, special bool, n int) ([]int32, int, error) {
	size := max(headMinBytes, headBytesPerID*(n+headMargin))
	if len(text) <= 2*size {
		return enc.encode(text, special)
	}
	prev, trail, err := enc.encode(cutRunes(text, size), special)
	if err != nil {
		return nil, 0, err
	}
	for {
		size *= 2
		whole := size >= len(text)
		cur, ctrail, err := enc.encode(cutRunes(text, size), special)
		if err != nil || whole {
			return cur, ctrail, err
		}
		// The prefix's own trailing special tokens are not text: compare
		// the ids before them.
		a, b := prev[:len(prev)-trail], cur[:len(cur)-ctrail]
		if len(a) >= n+headMargin && len(b) >= n+headMargin && slices.Equal(a[:n+headMargin], b[:n+headMargin]) {
			return append(slices.Clip(b[:n]), cur[len(cur)-ctrail:]...), ctrail, nil
		}
		prev, trail = cur, ctrail
	}
}

// cutRunes returns the longest prefix of s of at most n bytes that ends
// on a rune boundary.
func cutRunes(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
