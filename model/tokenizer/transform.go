package tokenizer

// change is one output rune of a transformation together with how it
// relates to the runes it rewrites, in the tokenizers library's convention
// for NormalizedString.transform: n == 0 replaces the next input rune,
// n > 0 inserts the rune, and n < 0 replaces the next input rune and
// removes the -n input runes after it.
type change struct {
	r rune
	n int
}

// transform rewrites n into the runes of cs, aligning them as the
// tokenizers library does: a replacing rune takes the span of the input
// rune it consumes, an inserted rune the span of the last input rune
// consumed before it (an empty span at the start of the text when there
// is none). Input runes that cs never consumes are dropped, and the runes
// after them then take shifted spans; this reproduces the library's
// alignments for the change lists its normalizers emit, quirks included.
func (n *normalized) transform(cs []change) {
	out := normalized{runes: make([]rune, 0, len(cs)), spans: make([]span, 0, len(cs))}
	k := 0 // input runes consumed so far
	for _, c := range cs {
		var sp span
		if c.n > 0 {
			sp = n.spanBefore(k)
		} else {
			sp = n.spanAt(k)
			k += 1 - min(c.n, 0)
		}
		out.runes = append(out.runes, c.r)
		out.spans = append(out.spans, sp)
	}
	*n = out
}

// spanAt returns the span of input rune k. Past the end (which the
// library's change lists never reach) it is the empty span at the end.
func (n *normalized) spanAt(k int) span {
	switch {
	case k < len(n.spans):
		return n.spans[k]
	case len(n.spans) > 0:
		end := n.spans[len(n.spans)-1].end
		return span{end, end}
	}
	return span{}
}

// spanBefore returns the span of the rune before input rune k, or the
// empty span at the start of the text when k is 0.
func (n *normalized) spanBefore(k int) span {
	switch {
	case k > 0 && len(n.spans) > 0:
		return n.spans[min(k, len(n.spans))-1]
	case len(n.spans) > 0:
		start := n.spans[0].start
		return span{start, start}
	}
	return span{}
}

// appendReplacement appends the changes that replace oldCount input runes
// by the runes of repl, as the tokenizers library's Precompiled normalizer
// records them: every new rune replaces one old rune; surplus new runes
// at the end are insertions; with fewer new runes, the last change
// emitted so far (possibly one of an earlier replacement) also removes the
// surplus old runes. A replacement that removes runes before any change
// exists is recorded by nothing, as in the library.
func appendReplacement(cs []change, oldCount int, repl string) []change {
	first := len(cs)
	for _, r := range repl {
		cs = append(cs, change{r: r})
	}
	diff := len(cs) - first - oldCount
	switch {
	case diff > 0:
		for i := len(cs) - diff; i < len(cs); i++ {
			cs[i].n = 1
		}
	case diff < 0 && len(cs) > 0:
		cs[len(cs)-1].n += diff
	}
	return cs
}
