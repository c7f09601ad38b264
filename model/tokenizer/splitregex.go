package tokenizer

// The byte-level BPE tokenizers split words with regexes that use
// negative look-ahead (\s+(?!\S)), which Go's RE2 engine does not offer.
// The splitters below implement those exact regexes by hand; each returns
// the rune ranges of successive leftmost matches, trying the alternatives
// in the order the regex lists them.

// gpt2Pattern is the ByteLevel pre-tokenizer's regex (GPT-2's).
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// llama3Pattern is the Split regex of Llama 3's tokenizer.json.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// qwen2Pattern is the Split regex of Qwen2's tokenizer.json (single
// digits).
const qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// knownSplitRegexes maps regexes RE2 cannot run to their splitters.
var knownSplitRegexes = map[string]func([]rune) [][2]int{
	gpt2Pattern:   gpt2Matches,
	llama3Pattern: func(rs []rune) [][2]int { return llama3Matches(rs, 3) },
	qwen2Pattern:  func(rs []rune) [][2]int { return llama3Matches(rs, 1) },
}

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// runLen counts how many runes from i on satisfy in.
func runLen(rs []rune, i int, in func(rune) bool) int {
	j := i
	for j < len(rs) && in(rs[j]) {
		j++
	}
	return j - i
}

// contraction matches 's 't 're 've 'm 'll 'd at i (ASCII letters,
// case-insensitively when fold is set) and returns its length or 0.
func contraction(rs []rune, i int, fold bool) int {
	if rs[i] != '\'' || i+1 >= len(rs) {
		return 0
	}
	lower := func(r rune) rune {
		if fold && r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	switch lower(rs[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 < len(rs) {
		switch string([]rune{lower(rs[i+1]), lower(rs[i+2])}) {
		case "re", "ve", "ll":
			return 3
		}
	}
	return 0
}

// optSpaceThen matches ` ?X+` at i for the class in, returning the length.
func optSpaceThen(rs []rune, i int, in func(rune) bool) int {
	if rs[i] == ' ' && i+1 < len(rs) && in(rs[i+1]) {
		return 1 + runLen(rs, i+1, in)
	}
	return runLen(rs, i, in)
}

// trailingSpace matches \s+(?!\S) then \s+ at i: a run of white space,
// less its last rune when a non-space follows and the run is longer than
// one rune.
func trailingSpace(rs []rune, i int) int {
	k := runLen(rs, i, isSpace)
	if k > 1 && i+k < len(rs) {
		return k - 1
	}
	return k
}

// gpt2Matches splits by gpt2Pattern.
func gpt2Matches(rs []rune) [][2]int {
	var out [][2]int
	for i := 0; i < len(rs); {
		n := contraction(rs, i, false)
		if n == 0 {
			n = optSpaceThen(rs, i, isLetter)
		}
		if n == 0 {
			n = optSpaceThen(rs, i, isNumber)
		}
		if n == 0 {
			n = optSpaceThen(rs, i, isOther)
		}
		if n == 0 {
			n = trailingSpace(rs, i)
		}
		if n == 0 { // unreachable: every rune is a letter, number, other or space
			n = 1
		}
		out = append(out, [2]int{i, i + n})
		i += n
	}
	return out
}

// isNewline is [\r\n].
func isNewline(r rune) bool { return r == '\r' || r == '\n' }

// llama3Matches splits by llama3Pattern, or qwen2Pattern when maxDigits
// is 1.
func llama3Matches(rs []rune, maxDigits int) [][2]int {
	var out [][2]int
	for i := 0; i < len(rs); {
		n := contraction(rs, i, true)
		if n == 0 { // [^\r\n\p{L}\p{N}]?\p{L}+
			r := rs[i]
			if !isNewline(r) && !isLetter(r) && !isNumber(r) && i+1 < len(rs) && isLetter(rs[i+1]) {
				n = 1 + runLen(rs, i+1, isLetter)
			} else {
				n = runLen(rs, i, isLetter)
			}
		}
		if n == 0 { // \p{N}{1,maxDigits}
			n = min(runLen(rs, i, isNumber), maxDigits)
		}
		if n == 0 { // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
			if n = optSpaceThen(rs, i, isOther); n > 0 {
				n += runLen(rs, i+n, isNewline)
			}
		}
		if n == 0 { // \s*[\r\n]+: white space up to its last newline
			k := runLen(rs, i, isSpace)
			for j := k - 1; j >= 0; j-- {
				if isNewline(rs[i+j]) {
					n = j + 1
					break
				}
			}
		}
		if n == 0 {
			n = trailingSpace(rs, i)
		}
		if n == 0 {
			n = 1
		}
		out = append(out, [2]int{i, i + n})
		i += n
	}
	return out
}
