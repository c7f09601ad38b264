package tokenizer

import (
	"encoding/json"
	"fmt"
)

// preTokenizer splits one piece of normalized text into words (and may
// rewrite them, as ByteLevel and Metaspace do). Empty words are dropped by
// the caller.
type preTokenizer interface {
	split(n *normalized) []*normalized
}

// parsePreTokenizer builds the pre-tokenizer described by raw (nil for
// null).
func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Sequence: %w", err)
		}
		var seq sequencePreTokenizer
		for i, r := range c.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, fmt.Errorf("pre_tokenizer Sequence[%d]: %w", i, err)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	case "ByteLevel":
		return parseByteLevelPreTokenizer(raw)
	case "Metaspace":
		return parseMetaspace(raw)
	case "Split":
		return parseSplit(raw)
	case "WhitespaceSplit":
		return funcPreTokenizer(func(n *normalized) []*normalized {
			return splitRunes(n, classMatches(n, isSpace), removed)
		}), nil
	case "Whitespace":
		return funcPreTokenizer(splitWhitespaceAndPunct), nil
	case "BertPreTokenizer":
		return funcPreTokenizer(splitBert), nil
	case "Punctuation":
		var c struct {
			Behavior *string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Punctuation: %w", err)
		}
		b := isolated
		if c.Behavior != nil {
			if b, err = parseBehavior(*c.Behavior); err != nil {
				return nil, fmt.Errorf("pre_tokenizer Punctuation: %w", err)
			}
		}
		return funcPreTokenizer(func(n *normalized) []*normalized {
			return splitRunes(n, eachMatch(n, isBertPunct), b)
		}), nil
	case "CharDelimiterSplit":
		var c struct {
			Delimiter string `json:"delimiter"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("pre_tokenizer CharDelimiterSplit: %w", err)
		}
		d := []rune(c.Delimiter)
		if len(d) != 1 {
			return nil, fmt.Errorf("pre_tokenizer CharDelimiterSplit: delimiter %q must be one character", c.Delimiter)
		}
		return funcPreTokenizer(func(n *normalized) []*normalized {
			return splitRunes(n, eachMatch(n, func(r rune) bool { return r == d[0] }), removed)
		}), nil
	case "Digits":
		var c struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Digits: %w", err)
		}
		return funcPreTokenizer(func(n *normalized) []*normalized {
			if c.Individual {
				return splitRunes(n, eachMatch(n, isNumeric), isolated)
			}
			return splitRunes(n, classMatches(n, isNumeric), isolated)
		}), nil
	}
	return nil, fmt.Errorf("unsupported pre_tokenizer type %q", typ)
}

// sequencePreTokenizer applies pre-tokenizers in order, each to every word
// the previous one produced.
type sequencePreTokenizer []preTokenizer

func (s sequencePreTokenizer) split(n *normalized) []*normalized {
	words := []*normalized{n}
	for _, p := range s {
		var next []*normalized
		for _, w := range words {
			next = append(next, p.split(w)...)
		}
		words = next
	}
	return words
}

// funcPreTokenizer adapts a function to preTokenizer.
type funcPreTokenizer func(n *normalized) []*normalized

func (f funcPreTokenizer) split(n *normalized) []*normalized { return f(n) }

// splitBehavior says what becomes of matched delimiters when splitting,
// mirroring the tokenizers library's SplitDelimiterBehavior.
type splitBehavior int

const (
	removed splitBehavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

// parseBehavior maps the JSON name of a split behavior.
func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

// piece is a rune range [lo, hi) of a text and whether it matched the
// delimiter pattern.
type piece struct {
	lo, hi int
	match  bool
}

// toPieces covers [0, n) with the matches (sorted, disjoint, possibly
// empty) and the gaps between them, in order, flipping the match flags when
// invert is set, as the tokenizers library's find_matches and Invert do.
func toPieces(matches [][2]int, n int, invert bool) []piece {
	if n == 0 {
		return []piece{{0, 0, invert}}
	}
	out := make([]piece, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if m[0] > prev {
			out = append(out, piece{prev, m[0], invert})
		}
		out = append(out, piece{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev < n {
		out = append(out, piece{prev, n, invert})
	}
	return out
}

// splitRunes cuts n at the rune ranges matches (sorted, disjoint) and
// returns the non-empty pieces arranged according to behavior.
func splitRunes(n *normalized, matches [][2]int, behavior splitBehavior) []*normalized {
	return splitPieces(n, toPieces(matches, n.len(), false), behavior)
}

// splitPieces arranges pieces according to behavior exactly as the
// tokenizers library's NormalizedString::split does and returns the
// non-empty words.
func splitPieces(n *normalized, pieces []piece, behavior splitBehavior) []*normalized {
	type word struct {
		lo, hi int
		drop   bool
	}
	var words []word
	prevMatch := false
	switch behavior {
	case removed:
		for _, p := range pieces {
			words = append(words, word{p.lo, p.hi, p.match})
		}
	case isolated:
		for _, p := range pieces {
			words = append(words, word{p.lo, p.hi, false})
		}
	case contiguous:
		for _, p := range pieces {
			if p.match == prevMatch && len(words) > 0 {
				words[len(words)-1].hi = p.hi
			} else {
				words = append(words, word{p.lo, p.hi, false})
			}
			prevMatch = p.match
		}
	case mergedWithPrevious:
		for _, p := range pieces {
			if p.match && !prevMatch && len(words) > 0 {
				words[len(words)-1].hi = p.hi
			} else {
				words = append(words, word{p.lo, p.hi, false})
			}
			prevMatch = p.match
		}
	case mergedWithNext:
		for i := len(pieces) - 1; i >= 0; i-- {
			p := pieces[i]
			if p.match && !prevMatch && len(words) > 0 {
				words[len(words)-1].lo = p.lo
			} else {
				words = append(words, word{p.lo, p.hi, false})
			}
			prevMatch = p.match
		}
		for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
			words[i], words[j] = words[j], words[i]
		}
	}
	out := make([]*normalized, 0, len(words))
	for _, w := range words {
		if !w.drop && w.hi > w.lo {
			out = append(out, n.slice(w.lo, w.hi))
		}
	}
	return out
}

// classMatches returns maximal runs of runes satisfying in.
func classMatches(n *normalized, in func(rune) bool) [][2]int {
	var out [][2]int
	for i := 0; i < n.len(); {
		if !in(n.runes[i]) {
			i++
			continue
		}
		j := i
		for j < n.len() && in(n.runes[j]) {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// eachMatch returns every single rune satisfying in as its own match.
func eachMatch(n *normalized, in func(rune) bool) [][2]int {
	var out [][2]int
	for i, r := range n.runes {
		if in(r) {
			out = append(out, [2]int{i, i + 1})
		}
	}
	return out
}

// splitWhitespaceAndPunct is the Whitespace pre-tokenizer: runs of word
// runes and runs of other non-space runes, spaces dropped (\w+|[^\w\s]+).
func splitWhitespaceAndPunct(n *normalized) []*normalized {
	var out []*normalized
	for i := 0; i < n.len(); {
		r := n.runes[i]
		if isSpace(r) {
			i++
			continue
		}
		word := isWordRune(r)
		j := i
		for j < n.len() && !isSpace(n.runes[j]) && isWordRune(n.runes[j]) == word {
			j++
		}
		out = append(out, n.slice(i, j))
		i = j
	}
	return out
}

// splitConfig is the JSON of a Split pre-tokenizer.
type splitConfig struct {
	Pattern  pattern `json:"pattern"`
	Behavior string  `json:"behavior"`
	Invert   bool    `json:"invert"`
}

// splitPreTokenizer is the Split pre-tokenizer: it cuts at pattern matches
// (or, inverted, keeps the matches as the words).
type splitPreTokenizer struct {
	match    func(n *normalized) [][2]int
	behavior splitBehavior
	invert   bool
}

// parseSplit builds a Split pre-tokenizer. The GPT-2, Llama 3 and Qwen2
// regexes use look-ahead, which RE2 lacks, and run through hand-written
// splitters instead.
func parseSplit(raw json.RawMessage) (preTokenizer, error) {
	var c splitConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
	}
	b, err := parseBehavior(c.Behavior)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
	}
	s := &splitPreTokenizer{behavior: b, invert: c.Invert}
	if c.Pattern.Regex != nil {
		if known, ok := knownSplitRegexes[*c.Pattern.Regex]; ok {
			s.match = func(n *normalized) [][2]int { return known(n.runes) }
			return s, nil
		}
	}
	p, err := c.Pattern.compile()
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
	}
	s.match = p.runeMatches
	return s, nil
}

func (s *splitPreTokenizer) split(n *normalized) []*normalized {
	return splitPieces(n, toPieces(s.match(n), n.len(), s.invert), s.behavior)
}
