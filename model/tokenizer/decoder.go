package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder rewrites the token strings of a decode; the final text is the
// concatenation of what the last decoder returns.
type decoder interface {
	decode(tokens []string) []string
}

// parseDecoder builds the decoder described by raw (nil for null).
func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Sequence: %w", err)
		}
		var seq sequenceDecoder
		for i, r := range c.Decoders {
			d, err := parseDecoder(r)
			if err != nil {
				return nil, fmt.Errorf("decoder Sequence[%d]: %w", i, err)
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDecoder{alphabet: newByteLevelAlphabet()}, nil
	case "Metaspace":
		m, err := parseMetaspace(raw)
		if err != nil {
			return nil, fmt.Errorf("decoder %w", err)
		}
		return m, nil
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		p, err := c.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		return replaceDecoder{pattern: p, content: c.Content}, nil
	case "WordPiece":
		return parseWordPieceDecoder(raw)
	case "BPEDecoder":
		c := struct {
			Suffix *string `json:"suffix"`
		}{}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder BPEDecoder: %w", err)
		}
		d := bpeDecoder{suffix: "</w>"}
		if c.Suffix != nil {
			d.suffix = *c.Suffix
		}
		return d, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		var c struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Strip: %w", err)
		}
		rs := []rune(c.Content)
		if len(rs) != 1 || c.Start < 0 || c.Stop < 0 {
			return nil, fmt.Errorf("decoder Strip: content %q must be one character and start/stop non-negative", c.Content)
		}
		return stripDecoder{content: rs[0], start: c.Start, stop: c.Stop}, nil
	}
	return nil, fmt.Errorf("unsupported decoder type %q", typ)
}

// sequenceDecoder chains decoders.
type sequenceDecoder []decoder

func (s sequenceDecoder) decode(tokens []string) []string {
	for _, d := range s {
		tokens = d.decode(tokens)
	}
	return tokens
}

// replaceDecoder replaces pattern matches in every token.
type replaceDecoder struct {
	pattern *compiledPattern
	content string
}

func (r replaceDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = r.pattern.replaceString(t, r.content)
	}
	return out
}

// bpeDecoder is the BPEDecoder (CLIP's): the end-of-word suffix becomes a
// space, or nothing on the last token.
type bpeDecoder struct{ suffix string }

func (d bpeDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		sep := " "
		if i == len(tokens)-1 {
			sep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, sep)
	}
	return out
}

// byteFallbackDecoder turns runs of <0xXX> tokens back into text; a run
// that is not valid UTF-8 becomes one U+FFFD per byte, as in the
// tokenizers library.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decode(tokens []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// parseByteToken reads a byte-fallback token such as "<0x0A>".
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(v), err == nil
}

// byteToken renders b as a byte-fallback token.
func byteToken(b byte) string { return fmt.Sprintf("<0x%02X>", b) }

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decode(tokens []string) []string { return []string{strings.Join(tokens, "")} }

// stripDecoder removes up to start leading and stop trailing occurrences
// of content from every token.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (s stripDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rs := []rune(t)
		lo, hi := 0, len(rs)
		for lo < s.start && lo < hi && rs[lo] == s.content {
			lo++
		}
		for len(rs)-hi < s.stop && hi > lo && rs[hi-1] == s.content {
			hi--
		}
		out[i] = string(rs[lo:hi])
	}
	return out
}
