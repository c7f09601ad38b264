package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// prependScheme says when Metaspace adds the replacement rune in front of
// a piece.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspace is SentencePiece's space handling: spaces become the
// replacement rune ("▁"), which is prepended to the text and, with split,
// starts every word. As a decoder it turns "▁" back into spaces.
type metaspace struct {
	replacement rune
	scheme      prependScheme
	splitWords  bool
}

// parseMetaspace reads the Metaspace JSON, accepting the older
// add_prefix_space flag where prepend_scheme is absent.
func parseMetaspace(raw json.RawMessage) (*metaspace, error) {
	var c struct {
		Replacement    string `json:"replacement"`
		PrependScheme  string `json:"prepend_scheme"`
		AddPrefixSpace *bool  `json:"add_prefix_space"`
		Split          *bool  `json:"split"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("Metaspace: %w", err)
	}
	rs := []rune(c.Replacement)
	if len(rs) != 1 {
		return nil, fmt.Errorf("Metaspace: replacement %q must be one character", c.Replacement)
	}
	m := &metaspace{replacement: rs[0], splitWords: c.Split == nil || *c.Split}
	switch c.PrependScheme {
	case "always":
	case "first":
		m.scheme = prependFirst
	case "never":
		m.scheme = prependNever
	case "":
		if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			m.scheme = prependNever
		}
	default:
		return nil, fmt.Errorf("Metaspace: unknown prepend_scheme %q", c.PrependScheme)
	}
	return m, nil
}

func (m *metaspace) split(n *normalized) []*normalized {
	n.replaceAll(n.runeMatches(" "), []rune{m.replacement})
	rep := string(m.replacement)
	switch m.scheme {
	case prependAlways:
		if !n.hasPrefix(rep) {
			n.prepend(rep)
		}
	case prependFirst:
		if !n.hasPrefix(rep) && n.len() > 0 && n.spans[0].start == 0 {
			n.prepend(rep)
		}
	}
	if !m.splitWords {
		return []*normalized{n}
	}
	return splitRunes(n, n.runeMatches(rep), mergedWithNext)
}

// decode replaces the replacement rune by a space in every token, dropping
// it from the first token unless the scheme never prepends.
func (m *metaspace) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for _, r := range t {
			switch {
			case r != m.replacement:
				b.WriteRune(r)
			case i == 0 && m.scheme != prependNever:
			default:
				b.WriteByte(' ')
			}
		}
		out[i] = b.String()
	}
	return out
}
