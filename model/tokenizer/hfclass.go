package tokenizer

import "unicode"

//go:generate sh -c "node gen_hf_classes.js $IA3_HF_TOKENIZERS && gofmt -w hf_classes.go"

// The character classes below are the ones the tokenizers library
// actually uses (hf_classes.go, probed from it by gen_hf_classes.js): its
// regexes run on Oniguruma with Unicode 16 tables, its other components on
// Rust's char methods and crates with an older Unicode; Go's tables are
// Unicode 15, so each differs from Go's on a few hundred to a few thousand
// runes. ASCII takes Go's fast paths, on which all agree.

var (
	onigLetter = onigClasses[`\p{L}`]
	onigNumber = onigClasses[`\p{N}`]
)

// isLetter is \p{L} in the tokenizers library's regexes.
func isLetter(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.Is(onigLetter, r)
}

// isNumber is \p{N} in the tokenizers library's regexes.
func isNumber(r rune) bool {
	if r < 0x80 {
		return '0' <= r && r <= '9'
	}
	return unicode.Is(onigNumber, r)
}

// isWordRune is \w in the Whitespace pre-tokenizer's regex, which runs on
// the Rust regex crate (Unicode's Word property), not on Oniguruma.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.Is(hfWordRegex, r)
}

// isNumeric is Rust's char::is_numeric (the Digits pre-tokenizer).
func isNumeric(r rune) bool {
	if r < 0x80 {
		return '0' <= r && r <= '9'
	}
	return unicode.Is(hfNumeric, r)
}
