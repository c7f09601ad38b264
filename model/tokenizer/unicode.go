package tokenizer

import "sort"

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

// combiningClass returns the canonical combining class of r.
func combiningClass(r rune) uint8 {
	i := sort.Search(len(combiningClasses), func(i int) bool { return combiningClasses[i].hi >= r })
	if i < len(combiningClasses) && combiningClasses[i].lo <= r {
		return combiningClasses[i].c
	}
	return 0
}

// unicodeNormalizer applies one of the four Unicode normalization forms.
// Decomposed runes keep the span of the rune they came from; a composite
// keeps the span of its starter, as the tokenizers library aligns them.
type unicodeNormalizer struct{ form string }

func (u unicodeNormalizer) normalize(n *normalized) {
	compat := u.form == "NFKC" || u.form == "NFKD"
	compose := u.form == "NFC" || u.form == "NFKC"
	decomposeRunes(n, compat)
	reorderMarks(n)
	if compose {
		composeRunes(n)
	}
}

// decomposeRunes fully decomposes every rune (canonically, or with
// compatibility mappings too).
func decomposeRunes(n *normalized, compat bool) {
	table := canonicalDecomp
	if compat {
		table = compatDecomp
	}
	n.mapRunes(func(dst []rune, r rune) []rune {
		if s := r - hangulSBase; s >= 0 && s < hangulSCount {
			dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
			if t := s % hangulTCount; t != 0 {
				dst = append(dst, hangulTBase+t)
			}
			return dst
		}
		if d, ok := table[r]; ok {
			for _, x := range d {
				dst = append(dst, x)
			}
			return dst
		}
		return append(dst, r)
	})
}

// reorderMarks puts every run of non-starters into canonical order (a
// stable sort by combining class), moving spans along.
func reorderMarks(n *normalized) {
	for i := 0; i < len(n.runes); {
		if combiningClass(n.runes[i]) == 0 {
			i++
			continue
		}
		j := i
		for j < len(n.runes) && combiningClass(n.runes[j]) != 0 {
			j++
		}
		// Insertion sort: runs are short and the sort must be stable.
		for a := i + 1; a < j; a++ {
			for b := a; b > i && combiningClass(n.runes[b-1]) > combiningClass(n.runes[b]); b-- {
				n.runes[b-1], n.runes[b] = n.runes[b], n.runes[b-1]
				n.spans[b-1], n.spans[b] = n.spans[b], n.spans[b-1]
			}
		}
		i = j
	}
}

// composeRunes applies canonical composition to decomposed, reordered text.
func composeRunes(n *normalized) {
	var b builder
	starter := -1 // index in b.out of the last starter, -1 if none
	var lastClass uint8
	for i, r := range n.runes {
		cc := combiningClass(r)
		if starter >= 0 {
			blocked := len(b.out.runes)-1 != starter && (lastClass == 0 || lastClass >= cc)
			if !blocked {
				if c, ok := composePair(b.out.runes[starter], r); ok {
					b.out.runes[starter] = c
					continue
				}
			}
		}
		if cc == 0 {
			starter = len(b.out.runes)
		}
		lastClass = cc
		b.add(r, n.spans[i])
	}
	*n = b.out
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
	return c, ok
}
