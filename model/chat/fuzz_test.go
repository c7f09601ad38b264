package chat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzTemplate compiles and renders arbitrary templates and messages:
// every failure must come back as an error, never a panic, and the
// generation spans must lie inside the text.
func FuzzTemplate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "configs", "*.json"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if tmpl, err := FromConfig(path, data); err == nil {
			f.Add(tmpl.Source(), "user", "Hello {{ x }}", true)
		}
	}
	f.Add("{% generation %}{{ messages[0].content }}{% endgeneration %}", "assistant", "\uFDD1", false)
	f.Add("{%- generation -%}{% generation %}{% endgeneration %}", "assistant", "", false)
	f.Fuzz(func(t *testing.T, src, role, content string, gen bool) {
		tmpl, err := New(src, map[string]string{"bos_token": "<s>", "eos_token": "</s>"})
		if err != nil {
			return
		}
		out, err := tmpl.Render([]Message{{Role: "system", Content: "s"}, {Role: role, Content: content}},
			Options{AddGenerationPrompt: gen, Now: func() time.Time { return time.Unix(0, 0) }})
		if err != nil {
			return
		}
		for _, s := range out.Generation {
			if s.Start < 0 || s.Start > s.End || s.End > len(out.Text) {
				t.Fatalf("span %v outside the text (%d bytes)", s, len(out.Text))
			}
		}
	})
}
