package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkEncode encodes a paragraph with every fixture tokenizer.
func BenchmarkEncode(b *testing.B) {
	root := filepath.Join(fixturesDir(b), "peft", "tokenizers")
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
