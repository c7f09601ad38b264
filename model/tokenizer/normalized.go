package tokenizer

import "unicode/utf8"

// span is a half-open byte range [start, end) of the original input.
type span struct{ start, end int }

// normalized is text under transformation in which every rune remembers
// the span of the original input it came from, so that tokens produced
// from it can be mapped back to offsets in what the caller passed in. It
// plays the role of the tokenizers library's NormalizedString.
type normalized struct {
	runes []rune
	spans []span
}

// newNormalized wraps s, whose first byte sits at byte offset base of the
// original input.
func newNormalized(s string, base int) *normalized {
	n := &normalized{runes: make([]rune, 0, len(s)), spans: make([]span, 0, len(s))}
	for i, r := range s {
		size := utf8.RuneLen(r) // s is valid UTF-8: Encode checks it
		n.runes = append(n.runes, r)
		n.spans = append(n.spans, span{base + i, base + i + size})
	}
	return n
}

// String returns the current text.
func (n *normalized) String() string { return string(n.runes) }

// len returns the number of runes.
func (n *normalized) len() int { return len(n.runes) }

// slice returns runes [i, j) as a new normalized sharing no storage.
func (n *normalized) slice(i, j int) *normalized {
	return &normalized{
		runes: append([]rune(nil), n.runes[i:j]...),
		spans: append([]span(nil), n.spans[i:j]...),
	}
}

// builder accumulates the output of a transformation.
type builder struct{ out normalized }

// add appends r aligned to sp.
func (b *builder) add(r rune, sp span) {
	b.out.runes = append(b.out.runes, r)
	b.out.spans = append(b.out.spans, sp)
}

// mapRunes replaces every rune by the zero or more runes f appends to
// dst. Output runes inherit the span of the rune they came from, as the
// tokenizers library aligns them.
func (n *normalized) mapRunes(f func(dst []rune, r rune) []rune) {
	out := normalized{runes: make([]rune, 0, len(n.runes)), spans: make([]span, 0, len(n.spans))}
	for i, r := range n.runes {
		k := len(out.runes)
		out.runes = f(out.runes, r)
		for range len(out.runes) - k {
			out.spans = append(out.spans, n.spans[i])
		}
	}
	*n = out
}

// replaceAll replaces the rune ranges [m[0], m[1]) (sorted, disjoint) by
// content. Every inserted rune takes the span of the last rune it replaces
// (of the rune before an empty match), which is where the tokenizers
// library aligns replaced text.
func (n *normalized) replaceAll(matches [][2]int, content []rune) {
	var b builder
	prev := 0
	for _, m := range matches {
		for i := prev; i < m[0]; i++ {
			b.add(n.runes[i], n.spans[i])
		}
		sp := n.spanBefore(m[1]) // for an empty match, the rune before it
		for _, r := range content {
			b.add(r, sp)
		}
		prev = m[1]
	}
	for i := prev; i < len(n.runes); i++ {
		b.add(n.runes[i], n.spans[i])
	}
	*n = b.out
}

// prepend inserts s before the first rune, aligned to that rune. Empty
// text stays empty, as in the tokenizers library.
func (n *normalized) prepend(s string) {
	if len(n.runes) == 0 || s == "" {
		return
	}
	sp := n.spans[0]
	var b builder
	for _, r := range s {
		b.add(r, sp)
	}
	b.out.runes = append(b.out.runes, n.runes...)
	b.out.spans = append(b.out.spans, n.spans...)
	*n = b.out
}

// runeMatches returns the rune ranges where the literal pattern occurs,
// scanning left to right without overlap.
func (n *normalized) runeMatches(pattern string) [][2]int {
	p := []rune(pattern)
	if len(p) == 0 {
		return nil
	}
	var out [][2]int
	for i := 0; i+len(p) <= len(n.runes); {
		if runesEqual(n.runes[i:i+len(p)], p) {
			out = append(out, [2]int{i, i + len(p)})
			i += len(p)
			continue
		}
		i++
	}
	return out
}

// runesEqual reports whether a and b hold the same runes.
func runesEqual(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// byteToRuneIndex maps byte offsets of s to rune indices: the returned
// slice has len(s)+1 entries, entry i being the index of the rune that
// contains byte i (and the rune count for i == len(s)). s must be valid
// UTF-8.
func byteToRuneIndex(s string) []int {
	idx := make([]int, len(s)+1)
	k := -1
	for i := 0; i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			k++
		}
		idx[i] = k
	}
	idx[len(s)] = k + 1
	return idx
}

// hasPrefix reports whether the text starts with s.
func (n *normalized) hasPrefix(s string) bool {
	p := []rune(s)
	return len(p) <= len(n.runes) && runesEqual(n.runes[:len(p)], p)
}

// trimSpaces removes leading and/or trailing white space.
func (n *normalized) trimSpaces(left, right bool) {
	i, j := 0, len(n.runes)
	for left && i < j && isSpace(n.runes[i]) {
		i++
	}
	for right && j > i && isSpace(n.runes[j-1]) {
		j--
	}
	*n = *n.slice(i, j)
}
