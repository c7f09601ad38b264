package tokenizer

import (
	"testing"

	"github.com/ia3/ia3/model/modeltest"
)

// FuzzFromJSON loads arbitrary bytes as tokenizer.json: loading must never
// panic, and a tokenizer it accepts must encode and decode short texts
// without panicking, with every id inside its vocabulary.
func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(llama2JSON))
	f.Add([]byte(bertJSON))
	f.Add(t5JSON(f))
	for _, s := range []string{
		`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}}`,
		`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "x": 1, "##y": 2}, "unk_token": "[UNK]"}, "normalizer": {"type": "BertNormalizer", "lowercase": true}}`,
		`{"model": {"type": "Unigram", "vocab": [["<unk>", 0], ["a", -1.5]], "unk_id": 0}, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁"}}`,
		`{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated"}}`,
		`{"added_tokens": [{"id": 7, "content": "<s>", "special": true}], "model": {"type": "BPE", "vocab": {"a": 0}}}`,
		`{"model": {"type": "Unigram", "vocab": [], "unk_id": 5}}`, `{"model": null}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	modeltest.AddSeeds(f, "peft/tokenizers/*/tokenizer.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := FromJSON("fuzz", data)
		if err != nil {
			return
		}
		for _, text := range []string{"", "Hello world", " a  b\tc\n", "Résumé 東京 😀", "<s>ab</s>"} {
			enc, err := tok.Encode(text)
			if err != nil {
				continue
			}
			if _, err := tok.Decode(enc.IDs, true); err != nil {
				continue
			}
			if len(enc.IDs) != len(enc.Offsets) {
				t.Fatalf("%q: %d ids but %d offsets", text, len(enc.IDs), len(enc.Offsets))
			}
		}
	})
}
