package tokenizer

import (
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzCompileRegex compiles arbitrary patterns the way tokenizer.json
// regexes are compiled and matches them against arbitrary text: neither
// step may panic (a match past its time limit is the one expected
// failure), and matches must be sorted, disjoint ranges of the text.
func FuzzCompileRegex(f *testing.F) {
	for _, s := range []string{
		gpt2Pattern, llama3Pattern, qwen2Pattern,
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*`,
		`\x{10D40}+|\P{L}|[^\S\n]|\w+|\W|\d|\D`, `(?m:a.b)|^x|y$`, `[\p{^L}]`, `\pL\pN`, `[]a]`, `[^]a]`, `\`, `\p{`, `\x{`, `[a`,
	} {
		f.Add(s, "Hello world 123 𐵀𐵁 𐗀 日本語\n\n  x")
	}
	f.Fuzz(func(t *testing.T, expr, text string) {
		if !utf8.ValidString(expr) || !utf8.ValidString(text) {
			return
		}
		re, err := compileRegex(expr)
		if err != nil {
			return
		}
		re.MatchTimeout = 50 * time.Millisecond
		rs := []rune(text)
		var ms [][2]int
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(matchError); !ok {
						panic(r)
					}
				}
			}()
			ms = regexRunes(re, rs)
		}()
		prev := 0
		for _, m := range ms {
			if m[0] < prev || m[1] < m[0] || m[1] > len(rs) {
				t.Fatalf("%q on %q: bad match %v after %d", expr, text, m, prev)
			}
			prev = m[1]
		}
	})
}
