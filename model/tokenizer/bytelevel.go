package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// byteLevelAlphabet holds GPT-2's reversible byte → rune mapping: bytes
// that are printable Latin-1 map to themselves, the others to U+0100 on.
// It lets BPE work on byte strings while vocabularies stay valid UTF-8.
type byteLevelAlphabet struct {
	toRune [256]rune
	toByte map[rune]byte
}

// newByteLevelAlphabet builds the mapping.
func newByteLevelAlphabet() *byteLevelAlphabet {
	a := &byteLevelAlphabet{toByte: make(map[rune]byte, 256)}
	next := rune(256)
	for b := range 256 {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = next
			next++
		}
		a.toRune[b] = r
		a.toByte[r] = byte(b)
	}
	return a
}

// byteLevelPreTokenizer is the ByteLevel pre-tokenizer: optional prefix
// space, the GPT-2 regex split, then every UTF-8 byte mapped to its rune.
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	useRegex       bool
	alphabet       *byteLevelAlphabet
}

// byteLevelConfig is the JSON shared by the ByteLevel pre-tokenizer,
// post-processor and decoder.
type byteLevelConfig struct {
	AddPrefixSpace bool  `json:"add_prefix_space"`
	TrimOffsets    bool  `json:"trim_offsets"`
	UseRegex       *bool `json:"use_regex"`
}

// parseByteLevelPreTokenizer reads a ByteLevel pre-tokenizer; use_regex
// defaults to true as in the tokenizers library.
func parseByteLevelPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	var c byteLevelConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("pre_tokenizer ByteLevel: %w", err)
	}
	return &byteLevelPreTokenizer{
		addPrefixSpace: c.AddPrefixSpace,
		useRegex:       c.UseRegex == nil || *c.UseRegex,
		alphabet:       newByteLevelAlphabet(),
	}, nil
}

func (p *byteLevelPreTokenizer) split(n *normalized) []*normalized {
	if p.addPrefixSpace && !n.hasPrefix(" ") {
		n.prepend(" ")
	}
	words := []*normalized{n}
	if p.useRegex {
		words = splitRunes(n, gpt2Matches(n.runes), isolated)
	}
	for _, w := range words {
		w.mapRunes(func(dst []rune, r rune) []rune {
			var buf [utf8.UTFMax]byte
			for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
				dst = append(dst, p.alphabet.toRune[b])
			}
			return dst
		})
	}
	return words
}

// byteLevelDecoder maps byte-level runes back to bytes and reads them as
// UTF-8. A token holding a rune outside the byte alphabet (an added token)
// contributes its own UTF-8 bytes, and invalid sequences become U+FFFD,
// both as in the tokenizers library.
type byteLevelDecoder struct{ alphabet *byteLevelAlphabet }

func (d byteLevelDecoder) decode(tokens []string) []string {
	var buf []byte
	for _, t := range tokens {
		start := len(buf)
		for _, r := range t {
			b, ok := d.alphabet.toByte[r]
			if !ok {
				buf = append(buf[:start], t...)
				break
			}
			buf = append(buf, b)
		}
	}
	return []string{decodeLossy(buf)}
}

// decodeLossy reads b as UTF-8, replacing each maximal invalid subpart by
// one U+FFFD, the rule of Rust's String::from_utf8_lossy (Go's
// strings.ToValidUTF8 would fold a whole invalid run into one).
func decodeLossy(b []byte) string {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			out = append(out, b[:size]...)
			b = b[size:]
			continue
		}
		out = utf8.AppendRune(out, utf8.RuneError)
		b = b[invalidPrefixLen(b):]
	}
	return string(out)
}

// invalidPrefixLen returns how many bytes of b, which does not start with
// a valid sequence, form the longest prefix of some valid sequence (at
// least 1).
func invalidPrefixLen(b []byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the second byte
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 2
	case c == 0xE0:
		need, lo = 3, 0xA0
	case c == 0xED:
		need, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 3
	case c == 0xF0:
		need, lo = 4, 0x90
	case c == 0xF4:
		need, hi = 4, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 4
	default:
		return 1
	}
	n := 1
	for n < need && n < len(b) {
		if n == 1 && (b[1] < lo || b[1] > hi) || n > 1 && (b[n] < 0x80 || b[n] > 0xBF) {
			break
		}
		n++
	}
	return n
}

// trimByteLevelOffsets narrows token spans past leading and trailing
// spaces (the byte-level Ġ or any white space), as the ByteLevel
// post-processor does with trim_offsets. A first token's single prefix
// space is kept when the pre-tokenizer added it.
func trimByteLevelOffsets(toks []encToken, addPrefixSpace bool, alphabet *byteLevelAlphabet) {
	space := alphabet.toRune[' ']
	isSp := func(r rune) bool { return r == space || isSpace(r) }
	for i := range toks {
		t := &toks[i]
		if t.special {
			continue
		}
		rs := []rune(t.value)
		lead := runLen(rs, 0, isSp)
		trail := 0
		for j := len(rs) - 1; j >= 0 && isSp(rs[j]); j-- {
			trail++
		}
		if lead > 0 {
			if addPrefixSpace && lead == 1 && (i == 0 || t.start == 0) {
				lead = 0
			}
			t.start = min(t.start+lead, t.end)
		}
		if trail > 0 && t.end >= trail {
			t.end = max(t.end-trail, t.start)
		}
	}
}

// byteLevelNormalizer is the ByteLevel normalizer: every UTF-8 byte of the
// text becomes its rune of the byte-level alphabet, all of a rune's bytes
// aligned to that rune.
type byteLevelNormalizer struct{ alphabet *byteLevelAlphabet }

func (b byteLevelNormalizer) normalize(n *normalized) {
	var buf [utf8.UTFMax]byte
	n.mapRunes(func(dst []rune, r rune) []rune {
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			dst = append(dst, b.alphabet.toRune[c])
		}
		return dst
	})
}
