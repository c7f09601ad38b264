package tokenizer

import (
	"sort"
	"unicode"
)

//go:generate sh -c "python3 gen_unicode_tables.py && gofmt -w unicode_tables.go"

// cccRange gives runes lo..hi (inclusive) the combining class c.
type cccRange struct {
	lo, hi rune
	c      uint8
}

// Hangul syllable arithmetic constants (Unicode §3.12).
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

// combiningClass returns the canonical combining class of r. Runes newer
// than HF's normalization tables have class 0 there, and so here.
func combiningClass(r rune) uint8 {
	if !unicode.Is(hfCombining, r) {
		return 0
	}
	return unicodeCombiningClass(r)
}

// unicodeCombiningClass returns the combining class of r in the Unicode
// version of unicode_tables.go.
func unicodeCombiningClass(r rune) uint8 {
	i := sort.Search(len(combiningClasses), func(i int) bool { return combiningClasses[i].hi >= r })
	if i < len(combiningClasses) && combiningClasses[i].lo <= r {
		return combiningClasses[i].c
	}
	return 0
}

// unicodeNormalizer applies one of the four Unicode normalization forms.
// Output runes are aligned to the input as the tokenizers library aligns
// them: its normalization crate tags every output rune with a change (see
// change) that travels with the rune through canonical reordering, and
// the runes then take the spans of the input positionally. A mark moved by
// reordering therefore takes the span of the rune that sat where it lands,
// not of the rune it came from.
type unicodeNormalizer struct{ form string }

func (u unicodeNormalizer) normalize(n *normalized) {
	compat := u.form == "NFKC" || u.form == "NFKD"
	out := decomposeRunes(n.runes, compat)
	reorderMarks(out)
	if u.form == "NFC" || u.form == "NFKC" {
		out = composeRunes(out)
	}
	n.transform(out)
}

// decomposeRunes fully decomposes every rune (canonically, or with
// compatibility mappings too): the first rune of a decomposition replaces
// its source, the others are insertions.
func decomposeRunes(rs []rune, compat bool) []change {
	table := canonicalDecomp
	if compat {
		table = compatDecomp
	}
	out := make([]change, 0, len(rs))
	for _, r := range rs {
		if s := r - hangulSBase; s >= 0 && s < hangulSCount {
			out = append(out, change{hangulLBase + s/hangulNCount, 0}, change{hangulVBase + (s%hangulNCount)/hangulTCount, 1})
			if t := s % hangulTCount; t != 0 {
				out = append(out, change{hangulTBase + t, 1})
			}
			continue
		}
		if d, ok := table[r]; ok && !unicode.Is(hfNoDecomposition, r) {
			for i, x := range d {
				out = append(out, change{x, min(i, 1)}) // i is a byte index: 0 only for the first rune
			}
			continue
		}
		out = append(out, change{r, 0})
	}
	return out
}

// reorderMarks puts every run of non-starters into canonical order (a
// stable sort by combining class), changes travelling with their runes.
func reorderMarks(rs []change) {
	for i := 0; i < len(rs); {
		if combiningClass(rs[i].r) == 0 {
			i++
			continue
		}
		j := i
		for j < len(rs) && combiningClass(rs[j].r) != 0 {
			j++
		}
		// Insertion sort: runs are short and the sort must be stable.
		for a := i + 1; a < j; a++ {
			for b := a; b > i && combiningClass(rs[b-1].r) > combiningClass(rs[b].r); b-- {
				rs[b-1], rs[b] = rs[b], rs[b-1]
			}
		}
		i = j
	}
}

// composeRunes applies canonical composition to decomposed, reordered
// runes. A composite's change sums those of its parts, less one for the
// rune it absorbs.
func composeRunes(rs []change) []change {
	out := make([]change, 0, len(rs))
	starter := -1 // index in out of the last starter, -1 if none
	var lastClass uint8
	for _, rc := range rs {
		cc := combiningClass(rc.r)
		if starter >= 0 {
			blocked := len(out)-1 != starter && (lastClass == 0 || lastClass >= cc)
			if !blocked {
				if c, ok := composePair(out[starter].r, rc.r); ok {
					out[starter].r = c
					out[starter].n += rc.n - 1
					continue
				}
			}
		}
		if cc == 0 {
			starter = len(out)
		}
		lastClass = cc
		out = append(out, rc)
	}
	return out
}

// composePair returns the primary composite of a and b, if any.
func composePair(a, b rune) (rune, bool) {
	if l := a - hangulLBase; l >= 0 && l < hangulLCount {
		if v := b - hangulVBase; v >= 0 && v < hangulVCount {
			return hangulSBase + (l*hangulVCount+v)*hangulTCount, true
		}
	}
	if s := a - hangulSBase; s >= 0 && s < hangulSCount && s%hangulTCount == 0 {
		if t := b - hangulTBase; t > 0 && t < hangulTCount {
			return a + t, true
		}
	}
	c, ok := primaryComposites[[2]rune{a, b}]
	return c, ok && !unicode.Is(hfNoDecomposition, c)
}
