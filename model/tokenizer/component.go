package tokenizer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dlclark/regexp2"
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

// compiledPattern finds pattern matches in text.
type compiledPattern struct {
	literal string
	re      *regexp2.Regexp
}

// regexTimeout bounds the time one regex match may take, so that a
// tokenizer.json with a catastrophically backtracking pattern fails with an
// error instead of hanging the caller. Real pre-tokenizer patterns match a
// word in microseconds.
const regexTimeout = 2 * time.Second

// compileRegex compiles a tokenizer.json regex for the backtracking engine
// (look-around, possessive-free Oniguruma-style syntax, Unicode classes),
// with Unicode classes taken from the tables the tokenizers library's
// Oniguruma uses (see onigClasses).
func compileRegex(expr string) (*regexp2.Regexp, error) {
	rewritten, err := rewriteClasses(expr)
	if err != nil {
		return nil, err
	}
	// Oniguruma's Ruby syntax makes ^ and $ line anchors.
	re, err := regexp2.Compile(rewritten, regexp2.Multiline)
	if err != nil {
		return nil, err
	}
	re.MatchTimeout = regexTimeout
	return re, nil
}

// compile checks the pattern and prepares it for matching. Regexes run on a
// backtracking engine with look-around, as Oniguruma does in the tokenizers
// library; a regex the engine cannot parse is refused with an error quoting
// it.
func (p pattern) compile() (*compiledPattern, error) {
	switch {
	case p.String != nil && p.Regex == nil:
		if *p.String == "" {
			return nil, fmt.Errorf("empty String pattern")
		}
		return &compiledPattern{literal: *p.String}, nil
	case p.Regex != nil && p.String == nil:
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("unsupported Regex pattern %q: %w", *p.Regex, err)
		}
		return &compiledPattern{re: re}, nil
	}
	return nil, fmt.Errorf("pattern needs exactly one of String or Regex")
}

// matchError carries a regex failure (a match that ran past regexTimeout)
// out of the pipeline stages, which return no errors, to Encode and Decode,
// which recover it and return it.
type matchError struct{ err error }

// recoverMatchError turns a matchError panic into *err, prefixed with
// where (the tokenizer and the operation); other panics go on.
func recoverMatchError(err *error, source, op string) {
	if r := recover(); r != nil {
		me, ok := r.(matchError)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("tokenizer: %s: %s: %w", source, op, me.err)
	}
}

// regexRunes returns the rune ranges of successive non-overlapping
// leftmost matches of re in rs. As with Oniguruma in the tokenizers
// library, an empty match right where the previous match ended is skipped;
// other empty matches count (they split words and take Replace content),
// except in empty text, where the library looks for no match.
func regexRunes(re *regexp2.Regexp, rs []rune) [][2]int {
	if len(rs) == 0 {
		return nil
	}
	var out [][2]int
	m, err := findRetrying(re, func() (*regexp2.Match, error) { return re.FindRunesMatch(rs) })
	for m != nil && err == nil {
		if m.Length > 0 || len(out) == 0 || out[len(out)-1][1] != m.Index {
			out = append(out, [2]int{m.Index, m.Index + m.Length})
		}
		prev := m
		m, err = findRetrying(re, func() (*regexp2.Match, error) { return re.FindNextMatch(prev) })
	}
	if err != nil {
		panic(matchError{fmt.Errorf("regex %q: %w", re.String(), err)})
	}
	return out
}

// findRetrying runs find again when it fails long before re's time limit
// has really passed: regexp2 measures the limit with a coarse shared clock
// that, starved on a loaded machine, can jump forward and fail a match that
// just started. A real timeout (at least half the limit spent) stands.
func findRetrying(re *regexp2.Regexp, find func() (*regexp2.Match, error)) (*regexp2.Match, error) {
	for tries := 0; ; tries++ {
		start := time.Now()
		m, err := find()
		if err == nil || tries == 3 || time.Since(start) >= re.MatchTimeout/2 {
			return m, err
		}
	}
}

// runeMatches returns the rune ranges of n matched by the pattern.
func (c *compiledPattern) runeMatches(n *normalized) [][2]int {
	if c.re == nil {
		return n.runeMatches(c.literal)
	}
	return regexRunes(c.re, n.runes)
}

// replaceString replaces every match in s by content.
func (c *compiledPattern) replaceString(s, content string) string {
	if c.re == nil {
		return strings.ReplaceAll(s, c.literal, content)
	}
	rs := []rune(s)
	var b strings.Builder
	prev := 0
	for _, m := range regexRunes(c.re, rs) {
		b.WriteString(string(rs[prev:m[0]]))
		b.WriteString(content)
		prev = m[1]
	}
	b.WriteString(string(rs[prev:]))
	return b.String()
}

// isSpace is the Unicode White_Space property, what \s matches in the
// tokenizers library's regexes.
func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }
