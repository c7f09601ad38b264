package ia3

import (
	"fmt"
	"regexp"
	"strings"
)

// compilePattern compiles a Python regular expression for re.fullmatch
// against module names. Go's RE2 matches the subset of Python syntax that
// PEFT patterns use in practice the same way; constructs RE2 lacks or reads
// differently are refused with an error naming the pattern, never matched
// differently:
//
//   - lookahead and lookbehind: (?=  (?!  (?<=  (?<!
//   - backreferences: \1 … \9, (?P=name)
//   - atomic groups (?>…), conditionals (?(…)…), possessive quantifiers
//     (*+ ++ ?+ }+)
//
// Python's \Z (end of text) becomes RE2's \z. re.fullmatch(p, s) is
// ^(?:p)$ in RE2, whose $ without the m flag matches only at the end.
func compilePattern(pat string) (*regexp.Regexp, error) {
	src, err := translatePattern(pat)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + src + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regex %q is not supported by Go's regexp (RE2): %w", pat, err)
	}
	return re, nil
}

// translatePattern checks pat for constructs RE2 lacks and rewrites the
// ones it spells differently.
func translatePattern(pat string) (string, error) {
	refuse := func(what string) (string, error) {
		return "", fmt.Errorf("regex %q uses %s, which Go's regexp (RE2) does not support; rewrite the pattern without it", pat, what)
	}
	var out strings.Builder
	inClass := false
	quantifiable := false // the previous token was a quantifier
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		if c == '\\' {
			if i+1 >= len(pat) {
				return "", fmt.Errorf("regex %q ends with a lone backslash", pat)
			}
			n := pat[i+1]
			switch {
			case !inClass && n >= '1' && n <= '9':
				return refuse(`a backreference (\` + string(n) + `)`)
			case n == 'Z':
				out.WriteString(`\z`)
			default:
				out.WriteByte(c)
				out.WriteByte(n)
			}
			i++
			quantifiable = false
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			out.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			out.WriteByte(c)
			// A ']' first in a class (or after '^') is a literal.
			if i+1 < len(pat) && pat[i+1] == '^' {
				out.WriteByte('^')
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' {
				out.WriteByte(']')
				i++
			}
			quantifiable = false
			continue
		case '(':
			rest := pat[i:]
			for _, p := range []struct{ prefix, what string }{
				{"(?=", "a lookahead (?=…)"}, {"(?!", "a negative lookahead (?!…)"},
				{"(?<=", "a lookbehind (?<=…)"}, {"(?<!", "a negative lookbehind (?<!…)"},
				{"(?P=", "a named backreference (?P=…)"}, {"(?>", "an atomic group (?>…)"},
				{"(?(", "a conditional group (?(…)…)"},
			} {
				if strings.HasPrefix(rest, p.prefix) {
					return refuse(p.what)
				}
			}
		case '+':
			if quantifiable {
				return refuse("a possessive quantifier")
			}
		}
		quantifiable = c == '*' || c == '+' || c == '?' || c == '}'
		if c == '?' && i > 0 && (pat[i-1] == '*' || pat[i-1] == '+' || pat[i-1] == '?' || pat[i-1] == '}') {
			quantifiable = false // a lazy quantifier's '?' (a*?) is not itself quantified
		}
		out.WriteByte(c)
	}
	return out.String(), nil
}
