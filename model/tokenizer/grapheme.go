package tokenizer

import "sort"

//go:generate sh -c "python3 gen_grapheme_tables.py && gofmt -w grapheme_tables.go"

// graphemeClass is a rune's Grapheme_Cluster_Break property (UAX #29).
type graphemeClass uint8

const (
	gcOther graphemeClass = iota
	gcCR
	gcLF
	gcControl
	gcExtend
	gcZWJ
	gcRegionalIndicator
	gcPrepend
	gcSpacingMark
	gcL
	gcV
	gcT
	gcLV
	gcLVT
)

// graphemeFlags are the other properties the cluster rules consult:
// Extended_Pictographic (GB11) and Indic_Conjunct_Break (GB9c).
type graphemeFlags uint8

const (
	gfPictographic graphemeFlags = 1 << iota
	gfConsonant
	gfLinker
	gfConjunctExtend
)

// graphemeRange gives runes lo..hi (inclusive) a class and flags.
type graphemeRange struct {
	lo, hi rune
	class  graphemeClass
	flags  graphemeFlags
}

// graphemeProps returns the class and flags of r.
func graphemeProps(r rune) (graphemeClass, graphemeFlags) {
	if r < 0x80 { // the ASCII fast path: no flags, the controls and CR, LF
		switch {
		case r == '\r':
			return gcCR, 0
		case r == '\n':
			return gcLF, 0
		case r < 0x20 || r == 0x7F:
			return gcControl, 0
		}
		return gcOther, 0
	}
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		if (r-hangulSBase)%hangulTCount == 0 {
			return gcLV, 0
		}
		return gcLVT, 0
	}
	i := sort.Search(len(graphemeRanges), func(i int) bool { return graphemeRanges[i].hi >= r })
	if i < len(graphemeRanges) && graphemeRanges[i].lo <= r {
		return graphemeRanges[i].class, graphemeRanges[i].flags
	}
	return gcOther, 0
}

// graphemeState is what the rules remember of the runes before a
// possible boundary.
type graphemeState struct {
	prev      graphemeClass
	riRun     int  // regional indicators ending at prev
	emojiZWJ  bool // prev is a ZWJ after \p{ExtPict} Extend* (GB11)
	emojiBase bool // the runes end in \p{ExtPict} Extend*
	conjunct  int  // 0: not in a conjunct; 1: Consonant [Extend Linker]*; 2: the same with a Linker (GB9c)
}

// advance moves the state past a rune of class c and flags f.
func (s *graphemeState) advance(c graphemeClass, f graphemeFlags) {
	s.emojiZWJ = c == gcZWJ && s.emojiBase
	s.emojiBase = f&gfPictographic != 0 || (c == gcExtend && s.emojiBase)
	if c == gcRegionalIndicator {
		s.riRun++
	} else {
		s.riRun = 0
	}
	switch {
	case f&gfConsonant != 0:
		s.conjunct = 1
	case f&gfLinker != 0 && s.conjunct > 0:
		s.conjunct = 2
	case f&gfConjunctExtend != 0 && s.conjunct > 0:
	default:
		s.conjunct = 0
	}
	s.prev = c
}

// breaksBefore reports whether UAX #29 puts a boundary before a rune of
// class next and flags f.
func (s *graphemeState) breaksBefore(next graphemeClass, f graphemeFlags) bool {
	prev := s.prev
	switch {
	case prev == gcCR && next == gcLF: // GB3
		return false
	case prev == gcCR, prev == gcLF, prev == gcControl: // GB4
		return true
	case next == gcCR, next == gcLF, next == gcControl: // GB5
		return true
	case prev == gcL && (next == gcL || next == gcV || next == gcLV || next == gcLVT): // GB6
		return false
	case (prev == gcLV || prev == gcV) && (next == gcV || next == gcT): // GB7
		return false
	case (prev == gcLVT || prev == gcT) && next == gcT: // GB8
		return false
	case next == gcExtend, next == gcZWJ, next == gcSpacingMark, prev == gcPrepend: // GB9, GB9a, GB9b
		return false
	case s.conjunct == 2 && f&gfConsonant != 0: // GB9c
		return false
	case s.emojiZWJ && f&gfPictographic != 0: // GB11
		return false
	case prev == gcRegionalIndicator && next == gcRegionalIndicator: // GB12, GB13
		return s.riRun%2 == 0
	}
	return true // GB999
}

// graphemeEnd returns the end of the extended grapheme cluster (UAX #29,
// with the tables of grapheme_tables.go) that starts at rune i of rs
// (i < len(rs)).
func graphemeEnd(rs []rune, i int) int {
	var s graphemeState
	s.advance(graphemeProps(rs[i]))
	for j := i + 1; j < len(rs); j++ {
		c, f := graphemeProps(rs[j])
		if s.breaksBefore(c, f) {
			return j
		}
		s.advance(c, f)
	}
	return len(rs)
}
