package train

import (
	"bytes"
	"slices"
	"testing"

	"github.com/ia3/ia3/model"
)

// FuzzJSONL reads arbitrary bytes as a JSONL file for every task and
// tokenises what it accepts with the byte tokenizer: nothing may panic,
// a line past the cap must be refused, and every accepted example must
// fit the truncation length with ids that are the text's bytes.
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		`{"text": "the cat sat"}` + "\n" + `{"text": "a dog"}`,
		"\uFEFF" + `{"prompt": "Q: 2+2?", "completion": " 4"}`,
		`{"input": "translate: hi", "target": "salut"}` + "\r\n",
		`{"text": "good", "label": 1}` + "\n\n" + `{"text": "bad", "label": "LABEL_0"}`,
		`{"text": "x", "prompt": "p", "completion": "c"}`,
		`{"text": "\u00e9\ud83d\ude00", "label": 1e400}`,
		`[1, 2]`, `{"text": null}`, `{"text": "a"}{"text": "b"}`, "\n \t\n", `{"label": -0.5, "text": ""}`,
	} {
		f.Add([]byte(s))
	}
	cfg, err := model.ConfigFromMap(map[string]any{"model_type": "gpt2", "architectures": []any{"GPT2LMHeadModel"},
		"vocab_size": 256.0, "n_positions": 64.0, "n_embd": 8.0, "n_layer": 1.0, "n_head": 2.0, "num_labels": 2.0})
	if err != nil {
		f.Fatal(err)
	}
	enc := &hfEncoder{tok: mustByteTokenizer(f)}
	const maxLine, maxLen = 256, 8
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, task := range []string{taskCausal, taskSeq2Seq, taskSeqCls} {
			var recs []record
			err := readRecords(bytes.NewReader(data), "fuzz.jsonl", task, maxLine, func(r record) error {
				recs = append(recs, r)
				return nil
			})
			if err != nil {
				continue
			}
			for _, line := range bytes.Split(data, []byte{'\n'}) {
				if len(line) > maxLine {
					t.Fatalf("%s: accepted a line of %d bytes past the cap %d", task, len(line), maxLine)
				}
			}
			c := *cfg
			c.TaskType = task
			ds, err := tokenize(recs, task, enc, maxLen, &c, true)
			if err != nil {
				continue
			}
			for _, ex := range ds.examples {
				if len(ex.ids) > maxLen || len(ex.labels) > maxLen {
					t.Fatalf("%s: %s has %d ids, %d labels, past max length %d", task, ex.source, len(ex.ids), len(ex.labels), maxLen)
				}
				if slices.ContainsFunc(ex.ids, func(id int32) bool { return id < 0 || id > 255 }) {
					t.Fatalf("%s: %s: ids %v are not bytes", task, ex.source, ex.ids)
				}
			}
		}
	})
}
