package tokenizer

import (
	"fmt"
	"sort"
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
	tokens   []AddedToken   // file order
	matchers []addedMatcher // by descending pattern length
	byFirst  map[rune][]int // indices into matchers by first pattern rune
	byID     map[int]AddedToken
	byToken  map[string]AddedToken
}

// addedMatcher is an added token with the runes it is matched as: its
// content, passed through the normalizer for normalized tokens (as the
// tokenizers library does, since those are sought in normalized text).
type addedMatcher struct {
	token   AddedToken
	pattern []rune
}

// newAddedVocab indexes the added tokens, rejecting empty contents and
// clashing ids. norm (which may be nil) normalizes the patterns of tokens
// marked normalized.
func newAddedVocab(tokens []AddedToken, norm normalizer) (*addedVocab, error) {
	v := &addedVocab{byID: map[int]AddedToken{}, byToken: map[string]AddedToken{}, byFirst: map[rune][]int{}}
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
		pattern := []rune(t.Content)
		if t.Normalized && norm != nil {
			n := newNormalized(t.Content, 0)
			norm.normalize(n)
			pattern = n.runes
		}
		if len(pattern) > 0 {
			v.matchers = append(v.matchers, addedMatcher{token: t, pattern: pattern})
		}
	}
	sort.SliceStable(v.matchers, func(i, j int) bool { return len(v.matchers[i].pattern) > len(v.matchers[j].pattern) })
	for k, m := range v.matchers {
		v.byFirst[m.pattern[0]] = append(v.byFirst[m.pattern[0]], k)
	}
	return v, nil
}

// assignAddedIDs gives the added tokens the ids the tokenizers library
// gives them when it loads a tokenizer.json, which ignores the ids the file
// declares: a token whose content the model knows takes the model's id,
// any other the next free one (the vocabulary's length, or one past the
// largest added id once that reaches it). A token repeating an earlier
// content is dropped. Real files declare the same ids.
func assignAddedIDs(tokens []AddedToken, m model) []AddedToken {
	out := make([]AddedToken, 0, len(tokens))
	seen := map[string]bool{}
	maxID := -1
	for _, t := range tokens {
		if seen[t.Content] {
			continue
		}
		seen[t.Content] = true
		if id, ok := m.tokenToID(t.Content); ok {
			t.ID = id
		} else {
			t.ID = m.vocabLen()
			if maxID >= 0 && (maxID >= m.vocabLen() || m.vocabLen() == 0) {
				t.ID = maxID + 1
			}
		}
		maxID = max(maxID, t.ID)
		out = append(out, t)
	}
	return out
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
	for _, k := range v.byFirst[rs[i]] {
		t, c := v.matchers[k].token, v.matchers[k].pattern
		if t.Normalized != normalizedPass {
			continue
		}
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

// isWordChar is what single_word treats as part of a word: \w of the Rust
// regex crate (regex_syntax::is_word_character), as in the tokenizers
// library.
func isWordChar(r rune) bool { return isWordRune(r) }
