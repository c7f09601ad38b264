package tokenizer

import (
	"encoding/json"
	"fmt"
)

// normalizer rewrites text in place, keeping alignments to the input.
type normalizer interface {
	normalize(n *normalized)
}

// parseNormalizer builds the normalizer described by raw (nil for null).
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("normalizer Sequence: %w", err)
		}
		var seq sequenceNormalizer
		for i, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, fmt.Errorf("normalizer Sequence[%d]: %w", i, err)
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "NFC", "NFD", "NFKC", "NFKD":
		return unicodeNormalizer{form: typ}, nil
	case "Nmt":
		return nmtNormalizer{}, nil
	case "Precompiled":
		var c struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("normalizer Precompiled: %w", err)
		}
		if c.Charsmap == nil {
			return nil, fmt.Errorf("normalizer Precompiled: missing precompiled_charsmap")
		}
		p, err := parsePrecompiled(*c.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("normalizer Precompiled: %w", err)
		}
		return p, nil
	case "BertNormalizer":
		return parseBertNormalizer(raw)
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "ByteLevel":
		return byteLevelNormalizer{alphabet: newByteLevelAlphabet()}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		var c struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("normalizer Strip: %w", err)
		}
		return stripNormalizer{left: c.Left, right: c.Right}, nil
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("normalizer Prepend: %w", err)
		}
		return prependNormalizer{prefix: c.Prepend}, nil
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		p, err := c.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		return replaceNormalizer{pattern: p, content: []rune(c.Content)}, nil
	}
	return nil, fmt.Errorf("unsupported normalizer type %q", typ)
}

// sequenceNormalizer applies normalizers in order.
type sequenceNormalizer []normalizer

func (s sequenceNormalizer) normalize(n *normalized) {
	for _, x := range s {
		x.normalize(n)
	}
}

// nmtNormalizer removes control characters and maps separator-like ones
// to a space, as SentencePiece's NMT rules do.
type nmtNormalizer struct{}

func (nmtNormalizer) normalize(n *normalized) {
	n.mapRunes(func(dst []rune, r rune) []rune {
		switch {
		case r >= 0x01 && r <= 0x08, r == 0x0b, r >= 0x0e && r <= 0x1f, r == 0x7f, r == 0x8f, r == 0x9f:
			return dst
		case r == 0x09, r == 0x0a, r == 0x0c, r == 0x0d, r == 0x1680, r >= 0x200b && r <= 0x200f,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xfeff, r == 0xfffd:
			return append(dst, ' ')
		}
		return append(dst, r)
	})
}

// lowercaseNormalizer lowercases every rune as Rust's char::to_lowercase
// does in the tokenizers library (hfLowercase).
type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(n *normalized) {
	n.mapRunes(func(dst []rune, r rune) []rune {
		if r < 0x80 {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			return append(dst, r)
		}
		if l, ok := hfLowercase[r]; ok {
			return append(dst, []rune(l)...)
		}
		return append(dst, r)
	})
}

// stripNormalizer trims white space at either end.
type stripNormalizer struct{ left, right bool }

func (s stripNormalizer) normalize(n *normalized) { n.trimSpaces(s.left, s.right) }

// prependNormalizer adds a prefix to non-empty text.
type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(n *normalized) { n.prepend(p.prefix) }

// replaceNormalizer replaces every pattern match by content.
type replaceNormalizer struct {
	pattern *compiledPattern
	content []rune
}

func (r replaceNormalizer) normalize(n *normalized) {
	n.replaceAll(r.pattern.runeMatches(n), r.content)
}
