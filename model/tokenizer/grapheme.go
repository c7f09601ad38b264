package tokenizer

import "unicode"

// graphemeClass is a rune's Grapheme_Cluster_Break property (UAX #29),
// as far as graphemeEnd needs it.
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

// prependRunes are the runes of Grapheme_Cluster_Break=Prepend.
var prependRunes = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x0600, Hi: 0x0605, Stride: 1}, {Lo: 0x06DD, Hi: 0x06DD, Stride: 1}, {Lo: 0x070F, Hi: 0x070F, Stride: 1},
		{Lo: 0x0890, Hi: 0x0891, Stride: 1}, {Lo: 0x08E2, Hi: 0x08E2, Stride: 1}, {Lo: 0x0D4E, Hi: 0x0D4E, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x110BD, Hi: 0x110BD, Stride: 1}, {Lo: 0x110CD, Hi: 0x110CD, Stride: 1}, {Lo: 0x111C2, Hi: 0x111C3, Stride: 1},
		{Lo: 0x1193F, Hi: 0x1193F, Stride: 1}, {Lo: 0x11941, Hi: 0x11941, Stride: 1}, {Lo: 0x11A3A, Hi: 0x11A3A, Stride: 1},
		{Lo: 0x11A84, Hi: 0x11A89, Stride: 1}, {Lo: 0x11D46, Hi: 0x11D46, Stride: 1}, {Lo: 0x11F02, Hi: 0x11F02, Stride: 1},
	},
}

// spacingMarkExceptions are spacing marks (Mc) that UAX #29 does not
// class as SpacingMark.
var spacingMarkExceptions = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x102B, Hi: 0x102C, Stride: 1}, {Lo: 0x1038, Hi: 0x1038, Stride: 1}, {Lo: 0x1062, Hi: 0x1064, Stride: 1},
		{Lo: 0x1067, Hi: 0x106D, Stride: 1}, {Lo: 0x1083, Hi: 0x1083, Stride: 1}, {Lo: 0x1087, Hi: 0x108C, Stride: 1},
		{Lo: 0x108F, Hi: 0x108F, Stride: 1}, {Lo: 0x109A, Hi: 0x109C, Stride: 1}, {Lo: 0x1A61, Hi: 0x1A61, Stride: 1},
		{Lo: 0x1A63, Hi: 0x1A64, Stride: 1}, {Lo: 0xAA7B, Hi: 0xAA7B, Stride: 1}, {Lo: 0xAA7D, Hi: 0xAA7D, Stride: 1},
	},
	R32: []unicode.Range32{{Lo: 0x11720, Hi: 0x11721, Stride: 1}},
}

// classifyGrapheme returns the Grapheme_Cluster_Break class of r, from
// Go's Unicode tables.
func classifyGrapheme(r rune) graphemeClass {
	switch {
	case r == '\r':
		return gcCR
	case r == '\n':
		return gcLF
	case r == 0x200D:
		return gcZWJ
	case r >= 0x1F1E6 && r <= 0x1F1FF:
		return gcRegionalIndicator
	case r >= 0x1F3FB && r <= 0x1F3FF: // emoji modifiers
		return gcExtend
	case r < 0x300:
		if unicode.Is(unicode.Cc, r) || r == 0xAD {
			return gcControl
		}
		return gcOther
	}
	if class, ok := hangulClass(r); ok {
		return class
	}
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Other_Grapheme_Extend):
		return gcExtend
	case unicode.Is(prependRunes, r):
		return gcPrepend
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
		return gcControl
	case r == 0x0E33 || r == 0x0EB3:
		return gcSpacingMark
	case unicode.Is(unicode.Mc, r) && !unicode.Is(spacingMarkExceptions, r):
		return gcSpacingMark
	}
	return gcOther
}

// hangulClass classes the Hangul jamo and syllables.
func hangulClass(r rune) (graphemeClass, bool) {
	switch {
	case r >= 0x1100 && r <= 0x115F, r >= 0xA960 && r <= 0xA97C:
		return gcL, true
	case r >= 0x1160 && r <= 0x11A7, r >= 0xD7B0 && r <= 0xD7C6:
		return gcV, true
	case r >= 0x11A8 && r <= 0x11FF, r >= 0xD7CB && r <= 0xD7FB:
		return gcT, true
	case r >= hangulSBase && r < hangulSBase+hangulSCount:
		if (r-hangulSBase)%hangulTCount == 0 {
			return gcLV, true
		}
		return gcLVT, true
	}
	return 0, false
}

// graphemeEnd returns the end of the extended grapheme cluster that starts
// at rune i of rs (i < len(rs)).
//
// It applies the rules of UAX #29 except two: GB11 (emoji ZWJ sequences)
// and GB9c (Indic conjunct clusters), whose property tables Go lacks. Both
// only join pieces into clusters of 6 bytes or more, which the Precompiled
// normalizer — the one user of clusters — rewrites rune by rune; leaving
// them out can change its output only where the charsmap maps a proper
// prefix of a piece they would have joined, which the SentencePiece
// charsmaps in use do not.
func graphemeEnd(rs []rune, i int) int {
	prev := classifyGrapheme(rs[i])
	riRun := 0 // regional indicators since the last non-RI rune
	if prev == gcRegionalIndicator {
		riRun = 1
	}
	for j := i + 1; j < len(rs); j++ {
		next := classifyGrapheme(rs[j])
		if graphemeBreak(prev, next, riRun) {
			return j
		}
		if next == gcRegionalIndicator {
			riRun++
		} else {
			riRun = 0
		}
		prev = next
	}
	return len(rs)
}

// graphemeBreak reports whether UAX #29 puts a boundary between runes of
// classes prev and next; riRun counts the regional indicators ending at
// prev.
func graphemeBreak(prev, next graphemeClass, riRun int) bool {
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
	case prev == gcRegionalIndicator && next == gcRegionalIndicator: // GB12, GB13
		return riRun%2 == 0
	}
	return true // GB999
}
