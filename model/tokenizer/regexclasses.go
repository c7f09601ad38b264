package tokenizer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/dlclark/regexp2"
	"github.com/dlclark/regexp2/syntax"
)

// The tokenizers library runs tokenizer.json regexes on Oniguruma, whose
// Unicode classes (\p{L}, \s, \w, ...) follow Unicode 16; regexp2 takes
// them from Go's Unicode 15 tables (and its \w is .NET's). rewriteClasses
// corrects every character class of a pattern that names such a class:
// the runes on which the class as Oniguruma reads it and as regexp2 reads
// it differ are added to it (as an alternative) or removed from it (by a
// negative look-ahead). Only those runes are checked, so this costs a few
// milliseconds per pattern and leaves the fast category tests of regexp2 in
// place for all other runes.

// classToken is one escape naming a Unicode class in a pattern.
type classToken struct {
	key    string // key in onigClasses (`\p{L}`, `\s`, ...)
	negate bool   // \P{..}, \p{^..}, \S, \W, \D
}

// onig reports whether Oniguruma's class matches r.
func (t classToken) onig(r rune) bool { return unicode.Is(onigClasses[t.key], r) != t.negate }

// regexp2Class returns the runes regexp2 matches for the class key, or nil
// when regexp2 does not know it.
func regexp2Class(key string) []*unicode.RangeTable {
	switch key {
	case `\s`:
		return []*unicode.RangeTable{unicode.White_Space} // regexp2 uses unicode.IsSpace
	case `\d`:
		return []*unicode.RangeTable{unicode.Nd}
	case `\w`:
		return []*unicode.RangeTable{unicode.L, unicode.Mn, unicode.Nd, unicode.Pc, joinControls}
	}
	if t := unicode.Categories[key[3:len(key)-1]]; t != nil {
		return []*unicode.RangeTable{t}
	}
	return nil
}

// joinControls is ZWNJ and ZWJ, which regexp2's \w includes.
var joinControls = &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x200c, Hi: 0x200d, Stride: 1}}}

// base reports whether regexp2 matches r for the token.
func (t classToken) base(r rune) bool {
	if t.key == `\w` {
		return syntax.IsWordChar(r) != t.negate
	}
	return unicode.In(r, regexp2Class(t.key)...) != t.negate
}

// rewriteClasses returns expr with its character classes corrected to
// Oniguruma's Unicode tables and Oniguruma's \x{HHHH} escapes spelled as
// regexp2 reads them.
func rewriteClasses(expr string) (string, error) {
	var out strings.Builder
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		switch rs[i] {
		case '\\':
			tok, text, n, err := parseEscape(rs, i)
			if err != nil {
				return "", err
			}
			if tok != nil {
				cls, err := fixClass(text, text, []classToken{*tok}, "", false)
				if err != nil {
					return "", err
				}
				out.WriteString(cls)
			} else {
				out.WriteString(text)
			}
			i += n
		case '(':
			// Ruby's (?m) is .NET's (?s): dot matches newline.
			out.WriteRune('(')
			i++
			if i < len(rs) && rs[i] == '?' {
				out.WriteRune('?')
				for i++; i < len(rs) && strings.ContainsRune("imx-", rs[i]); i++ {
					if rs[i] == 'm' {
						out.WriteRune('s')
					} else {
						out.WriteRune(rs[i])
					}
				}
			}
		case '[':
			cls, n, err := rewriteBracket(rs, i)
			if err != nil {
				return "", err
			}
			out.WriteString(cls)
			i += n
		default:
			out.WriteRune(rs[i])
			i++
		}
	}
	return out.String(), nil
}

// parseEscape reads the escape at rs[i] (a backslash). It returns the class
// token it names, if any, the text to put in its place, and its length.
func parseEscape(rs []rune, i int) (*classToken, string, int, error) {
	if i+1 >= len(rs) {
		return nil, "", 0, fmt.Errorf("trailing backslash")
	}
	c := rs[i+1]
	switch c {
	case 's', 'S', 'w', 'W', 'd', 'D':
		key := `\` + string(unicode.ToLower(c))
		return &classToken{key: key, negate: unicode.IsUpper(c)}, string(rs[i : i+2]), 2, nil
	case 'p', 'P':
		name, n := "", 2
		if i+2 < len(rs) && rs[i+2] == '{' {
			end := slices.Index(rs[i+2:], '}')
			if end < 0 {
				return nil, "", 0, fmt.Errorf("unterminated \\%c{", c)
			}
			name, n = string(rs[i+3:i+2+end]), 3+end
		} else if i+2 < len(rs) {
			name, n = string(rs[i+2]), 3
		}
		negate := c == 'P'
		if strings.HasPrefix(name, "^") {
			name, negate = name[1:], !negate
		}
		key := `\p{` + name + `}`
		if _, ok := onigClasses[key]; ok {
			text := `\p{` + name + `}`
			if negate {
				text = `\P{` + name + `}`
			}
			return &classToken{key: key, negate: negate}, text, n, nil
		}
		return nil, string(rs[i : i+n]), n, nil
	case 'x':
		if i+2 < len(rs) && rs[i+2] == '{' {
			end := slices.Index(rs[i+2:], '}')
			if end < 0 {
				return nil, "", 0, fmt.Errorf("unterminated \\x{")
			}
			v, err := strconv.ParseUint(string(rs[i+3:i+2+end]), 16, 32)
			if err != nil || v > unicode.MaxRune {
				return nil, "", 0, fmt.Errorf("bad escape %q", string(rs[i:i+3+end]))
			}
			return nil, escapeRune(rune(v)), 3 + end, nil
		}
	}
	return nil, string(rs[i : i+2]), 2, nil
}

// rewriteBracket rewrites the bracket expression starting at rs[i] and
// returns it and its length.
func rewriteBracket(rs []rune, i int) (string, int, error) {
	j := i + 1
	negate := j < len(rs) && rs[j] == '^'
	if negate {
		j++
	}
	var text, rest strings.Builder // the class as written; it without class tokens
	var toks []classToken
	for first := true; ; first = false {
		if j >= len(rs) {
			return "", 0, fmt.Errorf("unterminated character class")
		}
		c := rs[j]
		if c == ']' && !first {
			break
		}
		if c == '\\' {
			tok, t, n, err := parseEscape(rs, j)
			if err != nil {
				return "", 0, err
			}
			text.WriteString(t)
			if tok != nil {
				toks = append(toks, *tok)
			} else {
				rest.WriteString(t)
			}
			j += n
			continue
		}
		if c == '[' || c == '&' && j+1 < len(rs) && rs[j+1] == '&' {
			return "", 0, fmt.Errorf("nested classes and class intersections (%q) are not supported", string(rs[i:j+1]))
		}
		text.WriteRune(c)
		rest.WriteRune(c)
		j++
	}
	cls, err := fixClass(string(rs[i:j+1]), text.String(), toks, rest.String(), negate)
	return cls, j + 1 - i, err
}

// fixClass returns the class orig (a bracket expression or one escape) made
// to match what Oniguruma matches. members is its bracket-expression body
// (without ^), toks its class tokens, rest its other members, negate
// whether it is negated. Runes to add join the body and runes to remove
// are subtracted (.NET's [..-[..]]), so the class stays one class test;
// only a negated class that must gain runes becomes an alternation.
func fixClass(orig, members string, toks []classToken, rest string, negate bool) (string, error) {
	if len(toks) == 0 {
		return orig, nil
	}
	var others *regexp2.Regexp
	if rest != "" {
		var err error
		if others, err = regexp2.Compile("^["+rest+"]$", regexp2.None); err != nil {
			return "", err
		}
	}
	var candidates []rune
	for _, t := range toks {
		if regexp2Class(t.key) == nil {
			return "", fmt.Errorf("class %s is not supported", t.key)
		}
		candidates = append(candidates, classDiff(onigClasses[t.key], regexp2Class(t.key))...)
	}
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	var add, remove []rune
	for _, r := range candidates {
		other := false
		if others != nil {
			other, _ = others.MatchString(string(r))
		}
		onig, base := other, other
		for _, t := range toks {
			onig = onig || t.onig(r)
			base = base || t.base(r)
		}
		onig, base = onig != negate, base != negate
		switch {
		case onig && !base:
			add = append(add, r)
		case base && !onig:
			remove = append(remove, r)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return orig, nil
	}
	subtract := ""
	if len(remove) > 0 {
		subtract = "-[" + runeRanges(remove) + "]"
	}
	if !negate {
		return "[" + members + runeRanges(add) + subtract + "]", nil
	}
	cls := "[^" + members + subtract + "]"
	if len(add) > 0 {
		cls = "(?:" + cls + "|[" + runeRanges(add) + "])"
	}
	return cls, nil
}

// classDiff returns the runes in exactly one of a and the union of bs
// (possibly repeated).
func classDiff(a *unicode.RangeTable, bs []*unicode.RangeTable) []rune {
	var out []rune
	visit := func(t *unicode.RangeTable, keep func(r rune) bool) {
		for _, r := range t.R16 {
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				if keep(c) {
					out = append(out, c)
				}
			}
		}
		for _, r := range t.R32 {
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				if keep(c) {
					out = append(out, c)
				}
			}
		}
	}
	visit(a, func(r rune) bool { return !unicode.In(r, bs...) })
	for _, b := range bs {
		visit(b, func(r rune) bool { return !unicode.Is(a, r) })
	}
	return out
}

// runeRanges writes sorted runes as the ranges of a bracket expression.
func runeRanges(rs []rune) string {
	var b strings.Builder
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1] == rs[j]+1 {
			j++
		}
		b.WriteString(escapeRune(rs[i]))
		if j > i {
			b.WriteString("-" + escapeRune(rs[j]))
		}
		i = j + 1
	}
	return b.String()
}

// escapeRune writes r for a regexp2 pattern: \uHHHH on the BMP, the rune
// itself (never a metacharacter) above it.
func escapeRune(r rune) string {
	if r <= 0xffff {
		return fmt.Sprintf(`\u%04X`, r)
	}
	return string(r)
}
