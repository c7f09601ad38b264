package tokenizer

import (
	"fmt"
	"sort"
	"unicode"
)

// AddedToken is an entry of tokenizer.json's added_tokens: a token matched
// in the raw (or normalized) text before the model runs.
type AddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab finds added tokens in text, longest match first at the
// leftmost position, as the tokenizers library's Aho-Corasick search does.
type addedVocab struct {
	tokens  []AddedToken // by descending content length
	byID    map[int]AddedToken
	byToken map[string]AddedToken
}

// newAddedVocab indexes the added tokens, rejecting empty contents and
// clashing ids.
func newAddedVocab(tokens []AddedToken) (*addedVocab, error) {
	v := &addedVocab{byID: map[int]AddedToken{}, byToken: map[string]AddedToken{}}
	for i, t := range tokens {
		if t.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d] (id %d) has empty content", i, t.ID)
		}
		if t.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d] (%q) has negative id %d", i, t.Content, t.ID)
		}
		if o, dup := v.byID[t.ID]; dup && o.Content != t.Content {
			return nil, fmt.Errorf("added_tokens[%d]: %q and %q share id %d", i, o.Content, t.Content, t.ID)
		}
		v.byID[t.ID] = t
		v.byToken[t.Content] = t
		v.tokens = append(v.tokens, t)
	}
	sort.SliceStable(v.tokens, func(i, j int) bool { return len(v.tokens[i].Content) > len(v.tokens[j].Content) })
	return v, nil
}

// addedMatch is one added token found in a rune sequence, covering runes
// [lo, hi) (white space absorbed by lstrip/rstrip included).
type addedMatch struct {
	lo, hi int
	token  AddedToken
}

// find returns the non-overlapping matches in rs of the added tokens whose
// Normalized flag equals normalizedPass.
func (v *addedVocab) find(rs []rune, normalizedPass bool) []addedMatch {
	var out []addedMatch
	for i := 0; i < len(rs); {
		m, ok := v.matchAt(rs, i, normalizedPass)
		if !ok {
			i++
			continue
		}
		// Leftmost-longest: a match found here may be pre-empted by nothing
		// to its left (we scan left to right), so take it.
		if m.token.LStrip {
			floor := 0
			if len(out) > 0 {
				floor = out[len(out)-1].hi
			}
			for m.lo > floor && isSpace(rs[m.lo-1]) {
				m.lo--
			}
		}
		if m.token.RStrip {
			for m.hi < len(rs) && isSpace(rs[m.hi]) {
				m.hi++
			}
		}
		out = append(out, m)
		i = m.hi
	}
	return out
}

// matchAt returns the longest eligible added token starting at rune i.
func (v *addedVocab) matchAt(rs []rune, i int, normalizedPass bool) (addedMatch, bool) {
	for _, t := range v.tokens {
		if t.Normalized != normalizedPass {
			continue
		}
		c := []rune(t.Content)
		if i+len(c) > len(rs) || !runesEqual(rs[i:i+len(c)], c) {
			continue
		}
		if t.SingleWord && ((i > 0 && isWordChar(rs[i-1])) || (i+len(c) < len(rs) && isWordChar(rs[i+len(c)]))) {
			continue
		}
		return addedMatch{lo: i, hi: i + len(c), token: t}, true
	}
	return addedMatch{}, false
}

// isWordChar is what single_word treats as part of a word.
func isWordChar(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
