package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzEncode encodes arbitrary text with every fixture tokenizer (and the
// miniature Llama 2, BERT and T5 ones): it must never panic, offsets must be ordered
// spans inside the text, every id must decode, and byte-level BPE must
// round-trip the text exactly.
func FuzzEncode(f *testing.F) {
	root := tokenizersDir(f)
	kinds, err := os.ReadDir(root)
	if err != nil {
		f.Fatal(err)
	}
	toks := map[string]*Tokenizer{}
	for _, k := range kinds {
		tok, err := Load(filepath.Join(root, k.Name(), "tokenizer.json"))
		if err != nil {
			f.Fatal(err)
		}
		toks[k.Name()] = tok
	}
	llama, err := FromJSON("llama2", []byte(llama2JSON))
	if err != nil {
		f.Fatal(err)
	}
	toks["llama2"] = llama
	bert, err := FromJSON("bert", []byte(bertJSON))
	if err != nil {
		f.Fatal(err)
	}
	toks["bert"] = bert
	t5, err := FromJSON("t5", t5JSON(f))
	if err != nil {
		f.Fatal(err)
	}
	toks["t5"] = t5
	for _, s := range []string{"Hello world", " leading  spaces\t\n", "Résumé 東京 😀", "<s>x</s><unk>", "'s 're ﬁ ①", "ｆ\u0301 \r\n\x1e™ e\u0301 中文 Héllo,!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return
		}
		n := utf8.RuneCountInString(text)
		for name, tok := range toks {
			enc, err := tok.Encode(text)
			if err != nil {
				t.Fatalf("%s: encode %q: %v", name, text, err)
			}
			for i, o := range enc.Offsets {
				if o[0] < 0 || o[0] > o[1] || o[1] > n {
					t.Fatalf("%s: %q token %d offsets %v outside [0, %d]", name, text, i, o, n)
				}
			}
			dec, err := tok.Decode(enc.IDs, false)
			if err != nil {
				t.Fatalf("%s: decode %v: %v", name, enc.IDs, err)
			}
			if name == "bytelevel_bpe" && dec != text {
				t.Fatalf("%s: %q decoded to %q", name, text, dec)
			}
		}
	})
}
