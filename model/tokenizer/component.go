package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// componentType reads the "type" field of a pipeline component.
func componentType(raw json.RawMessage) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("bad component JSON: %w", err)
	}
	if head.Type == "" {
		return "", fmt.Errorf("component lacks a \"type\" field")
	}
	return head.Type, nil
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// pattern is the {"String": ...} or {"Regex": ...} pattern of Replace
// normalizers and decoders and of the Split pre-tokenizer.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// compiledPattern finds pattern matches as byte ranges of a string.
type compiledPattern struct {
	literal string
	re      *regexp.Regexp
}

// compile checks the pattern and prepares it for matching. Regexes use Go's
// RE2 syntax, which covers the simple patterns tokenizer.json files use; a
// regex RE2 cannot express is refused with an error quoting it.
func (p pattern) compile() (*compiledPattern, error) {
	switch {
	case p.String != nil && p.Regex == nil:
		if *p.String == "" {
			return nil, fmt.Errorf("empty String pattern")
		}
		return &compiledPattern{literal: *p.String}, nil
	case p.Regex != nil && p.String == nil:
		re, err := regexp.Compile(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("unsupported Regex pattern %q: %w", *p.Regex, err)
		}
		return &compiledPattern{re: re}, nil
	}
	return nil, fmt.Errorf("pattern needs exactly one of String or Regex")
}

// runeMatches returns the rune ranges of n matched by the pattern.
func (c *compiledPattern) runeMatches(n *normalized) [][2]int {
	if c.re == nil {
		return n.runeMatches(c.literal)
	}
	s := n.String()
	var ms [][]int
	for _, m := range c.re.FindAllStringIndex(s, -1) {
		if m[1] > m[0] { // empty matches split nothing
			ms = append(ms, m)
		}
	}
	return regexRuneMatches(s, ms)
}

// replaceString replaces every match in s by content.
func (c *compiledPattern) replaceString(s, content string) string {
	if c.re == nil {
		return strings.ReplaceAll(s, c.literal, content)
	}
	return c.re.ReplaceAllLiteralString(s, content)
}

// isSpace is the Unicode White_Space property, what \s matches in the
// tokenizers library's regexes.
func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }
