package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// entries lists every key of the charsmap with its replacement.
func (p *precompiled) entries() map[string]string {
	out := map[string]string{}
	_ = p.walkKeys(true, func(key []byte, pos int) error {
		if v, ok := p.valueAt(pos); ok {
			out[string(key)] = v
		}
		return nil
	})
	return out
}

// TestWriteTrimmedCharsmap writes testdata/hf/precompiled_nmt_nfkc/
// tokenizer.json, the always-run case of a real SentencePiece charsmap:
// the Precompiled normalizer of the tokenizer.json that
// IA3_TRIM_CHARSMAP names (one made by testdata/hf/spm_to_tokenizer_json.js
// from a real spiece.model, whose charsmap is SentencePiece's nmt_nfkc),
// cut to the keys that occur in the hard strings of
// testdata/hf/strings.json (so their normalization is unchanged), with
// T5's pipeline around it and a hand-built Unigram vocabulary: the runes
// of the hard strings and of the kept replacements, and their words. It
// runs only when IA3_TRIM_CHARSMAP is set; gen_hf_parity.js small then
// writes HF's expected output next to it.
func TestWriteTrimmedCharsmap(t *testing.T) {
	src := os.Getenv("IA3_TRIM_CHARSMAP")
	if src == "" {
		t.Skip("IA3_TRIM_CHARSMAP unset: nothing to write")
	}
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	var f struct {
		Normalizer json.RawMessage `json:"normalizer"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	var charsmap string
	var find func(raw json.RawMessage)
	find = func(raw json.RawMessage) {
		var c struct {
			Type        string            `json:"type"`
			Charsmap    string            `json:"precompiled_charsmap"`
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		require.NoError(t, json.Unmarshal(raw, &c))
		if c.Type == "Precompiled" {
			charsmap = c.Charsmap
		}
		for _, n := range c.Normalizers {
			find(n)
		}
	}
	find(f.Normalizer)
	require.NotEmpty(t, charsmap, "%s: no Precompiled normalizer", src)
	p, err := parsePrecompiled(charsmap)
	require.NoError(t, err)
	all := p.entries()

	sraw, err := os.ReadFile(filepath.Join("testdata", "hf", "strings.json"))
	require.NoError(t, err)
	var hs struct{ Strings []string }
	require.NoError(t, json.Unmarshal(sraw, &hs))
	kept := map[string]string{}
	for k, v := range all {
		for _, s := range hs.Strings {
			if strings.Contains(s, k) {
				kept[k] = v
				break
			}
		}
	}
	t.Logf("%s: %d of %d charsmap keys kept", src, len(kept), len(all))

	// The vocabulary: runes and words of the hard strings and of the kept
	// replacements, with distinct scores so that no two segmentations tie.
	runes := map[string]bool{}
	words := map[string]bool{}
	texts := append([]string(nil), hs.Strings...)
	for _, v := range kept {
		texts = append(texts, v)
	}
	for _, s := range texts {
		for _, r := range s {
			if r != ' ' {
				runes[string(r)] = true
			}
		}
		for _, w := range strings.Fields(s) {
			if len([]rune(w)) > 1 {
				words["▁"+w] = true
			}
		}
	}
	sorted := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	vocab := [][2]any{{"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}, {"▁", -2.0}}
	for i, w := range sorted(words) {
		vocab = append(vocab, [2]any{w, -1 - float64(i)/1024})
	}
	for i, r := range sorted(runes) {
		vocab = append(vocab, [2]any{r, -8 - float64(i)/1024})
	}
	special := func(id int, content string) map[string]any {
		return map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
	}
	metaspace := map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}
	js, err := json.Marshal(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":  []any{special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")},
		"normalizer":    map[string]any{"type": "Precompiled", "precompiled_charsmap": buildCharsmap(t, kept)},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "WhitespaceSplit"}, metaspace}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
			"pair": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 1}}},
			"special_tokens": map[string]any{"</s>": map[string]any{"id": "</s>", "ids": []int{1}, "tokens": []string{"</s>"}}}},
		"decoder": metaspace,
		"model":   map[string]any{"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": false},
	})
	require.NoError(t, err)
	dir := filepath.Join("testdata", "hf", "precompiled_nmt_nfkc")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644))
}
