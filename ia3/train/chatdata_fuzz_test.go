package train

import (
	"bytes"
	"testing"

	"github.com/ia3/ia3/model"
)

// FuzzChatJSONL reads arbitrary bytes as chat lines and tokenises what it
// accepts with the byte tokenizer under a prefix template, a generation
// template and Qwen3's: nothing may panic, and every example must fit the
// truncation length with labels that are its ids or ignored.
func FuzzChatJSONL(f *testing.F) {
	for _, s := range []string{
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}`,
		`{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "<think>"}, {"role": "assistant", "content": "</think>x"}, {"role": "user", "content": "$"}, {"role": "assistant", "content": "$|"}]}`,
		`{"messages": [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1.5}}}]}, {"role": "tool", "content": "2"}, {"role": "assistant", "content": "<|im_end|>"}]}`,
		`{"messages": [{"role": "assistant", "content": "a", "role": "x"}]}`, `{"messages": {}}`, `{"messages": [null]}`,
	} {
		f.Add([]byte(s))
	}
	tok := mustByteTokenizer(f)
	cfg := &model.Config{PadTokenID: -1, VocabSize: 256, TaskType: taskCausal}
	encs := []*hfChatEncoder{
		chatEnc(f, tok, prefixTemplate, map[string]string{"bos_token": "^", "eos_token": "$"}),
		chatEnc(f, tok, generationTemplate, map[string]string{"bos_token": "^", "eos_token": "$"}),
		{hfEncoder: newHFEncoder(tok, cfg), tmpl: configTemplate(f, "qwen3")},
	}
	const maxLine, maxLen = 1024, 48
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []record
		if err := readRecords(bytes.NewReader(data), "fuzz.jsonl", taskCausal, maxLine, func(r record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			return
		}
		for _, enc := range encs {
			ds, err := tokenize(recs, taskCausal, enc, maxLen, cfg, true)
			if err != nil {
				continue
			}
			for _, ex := range ds.examples {
				if len(ex.ids) > maxLen || len(ex.labels) != len(ex.ids) {
					t.Fatalf("%s: %d ids, %d labels, max length %d", ex.source, len(ex.ids), len(ex.labels), maxLen)
				}
				for i, l := range ex.labels {
					if l != model.IgnoreIndex && l != ex.ids[i] {
						t.Fatalf("%s: label %d at %d is neither ignored nor the id %d", ex.source, l, i, ex.ids[i])
					}
				}
			}
		}
	})
}
