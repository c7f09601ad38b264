package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkEncode encodes a paragraph with every fixture tokenizer.
func BenchmarkEncode(b *testing.B) {
	root := tokenizersDir(b)
	text := strings.Repeat("Adapters rescale activations; Résumé naïve café 東京 😀 1234567890.\n", 20)
	for _, kind := range []string{"bytelevel_bpe", "sentencepiece_bpe", "sentencepiece_unigram"} {
		tok, err := Load(filepath.Join(root, kind, "tokenizer.json"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := tok.Encode(text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrecompiled loads a charsmap the size of T5's (every Unicode
// compatibility decomposition, about 5,800 keys) and normalizes a
// paragraph with it.
func BenchmarkPrecompiled(b *testing.B) {
	mappings := make(map[string]string, len(compatDecomp))
	for r, d := range compatDecomp {
		mappings[string(r)] = d
	}
	charsmap := buildCharsmap(b, mappings)
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, err := parsePrecompiled(charsmap); err != nil {
				b.Fatal(err)
			}
		}
	})
	p, err := parsePrecompiled(charsmap)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Ｆｕｌｌ-width ﬁ ligatures, ① circled, Résumé naïve 東京 😀 1234567890.\n", 20)
	b.Run("normalize", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			p.normalize(newNormalized(text, 0))
		}
	})
}
