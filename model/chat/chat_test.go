package chat

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromConfig(t *testing.T) {
	msgs := []Message{{Role: "user", Content: "hi"}}
	tests := []struct {
		name, config, want, wantErr string
	}{
		{name: "string", config: `{"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", "bos_token": "<s>", "eos_token": "</s>"}`, want: "<s>hi</s>"},
		{name: "added token objects", config: `{"chat_template": "{{ bos_token }}|{{ pad_token }}|{{ unk_token }}", "bos_token": {"__type": "AddedToken", "content": "<b>", "lstrip": false}, "pad_token": {"content": "<p>"}, "unk_token": null}`, want: "<b>|<p>|"},
		{name: "named list", config: `{"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "default {{ messages|length }}"}]}`, want: "default 1"},
		{name: "named list without default", config: `{"chat_template": [{"name": "tool_use", "template": "x"}]}`, wantErr: `no chat_template named "default" (have "tool_use")`},
		{name: "missing", config: `{"bos_token": "<s>"}`, wantErr: "no chat_template: the tokenizer has no chat template"},
		{name: "null", config: `{"chat_template": null}`, wantErr: "no chat_template"},
		{name: "wrong type", config: `{"chat_template": 3}`, wantErr: "chat_template: want a string or a list"},
		{name: "bad token", config: `{"chat_template": "x", "eos_token": 3}`, wantErr: "eos_token: want a string or an object"},
		{name: "bad JSON", config: `{`, wantErr: "cfg.json: bad JSON"},
		{name: "syntax error", config: `{"chat_template": "{% if %}"}`, wantErr: "chat template"},
		{name: "raise_exception", config: `{"chat_template": "{{ raise_exception('roles must alternate') }}"}`, wantErr: "roles must alternate"},
		{name: "generation prompt and tools", config: `{"chat_template": "{% if tools is none %}n{% endif %}{% if add_generation_prompt %}G{% endif %}"}`, want: "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := FromConfig("cfg.json", []byte(tt.config))
			var out Rendered
			if err == nil {
				out, err = tmpl.Render(msgs, Options{})
			}
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, out.Text)
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadDir(dir)
	require.ErrorIs(t, err, ErrNoTemplate)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"eos_token": "</s>"}`), 0o600))
	_, err = LoadDir(dir)
	require.ErrorIs(t, err, ErrNoTemplate)
	assert.Contains(t, err.Error(), "tokenizer_config.json")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"eos_token": "</s>", "chat_template": "{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}{% endfor %}"}`), 0o600))
	tmpl, err := LoadDir(dir)
	require.NoError(t, err)
	eos, ok := tmpl.Token("eos_token")
	assert.True(t, ok)
	assert.Equal(t, "</s>", eos)
	out, err := tmpl.Render([]Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "user:a</s>assistant:b</s>", out.Text)
	assert.False(t, tmpl.HasGeneration())

	// chat_template.jinja wins over the inline template; the tokens still
	// come from tokenizer_config.json.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("{{ messages|length }}{{ eos_token }}\n"), 0o600))
	tmpl, err = LoadDir(dir)
	require.NoError(t, err)
	out, err = tmpl.Render([]Message{{Role: "user", Content: "a"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "1</s>\n", out.Text)
	require.NoError(t, os.Remove(filepath.Join(dir, "tokenizer_config.json")))
	tmpl, err = LoadDir(dir)
	require.NoError(t, err)
	out, err = tmpl.Render([]Message{{Role: "user", Content: "a"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "1\n", out.Text)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("{% if %}"), 0o600))
	_, err = LoadDir(dir)
	assert.ErrorContains(t, err, "chat_template.jinja: chat template")
}

func TestGenerationSpans(t *testing.T) {
	src := "{% for m in messages %}{% if m.role == 'assistant' %}A:{%- generation -%}\n  {{ m.content }}!\n{%- endgeneration %}\n;{% else %}U:{{ m.content }};{% endif %}{% endfor %}"
	tmpl, err := New(src, nil)
	require.NoError(t, err)
	assert.True(t, tmpl.HasGeneration())
	out, err := tmpl.Render([]Message{{Role: "user", Content: "é"}, {Role: "assistant", Content: "ok"}, {Role: "user", Content: "x"}, {Role: "assistant", Content: "ü"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "U:é;A:ok!;U:x;A:ü!;", out.Text)
	require.Len(t, out.Generation, 2)
	assert.Equal(t, "ok!", out.Text[out.Generation[0].Start:out.Generation[0].End])
	assert.Equal(t, "ü!", out.Text[out.Generation[1].Start:out.Generation[1].End])

	_, err = tmpl.Render([]Message{{Role: "assistant", Content: "a\uFDD0"}}, Options{})
	assert.ErrorContains(t, err, "U+FDD0")
}

func TestStrftime(t *testing.T) {
	at := time.Date(2024, 7, 6, 15, 4, 5, 0, time.UTC)
	tests := []struct{ format, want string }{
		{"%d %b %Y", "06 Jul 2024"},
		{"%Y-%m-%d", "2024-07-06"},
		{"%A %B %-d, %I:%M:%S %p", "Saturday July 6, 03:04:05 PM"},
		{"%a %j %y 100%%", "Sat 188 24 100%"},
		{"%Q and a trailing %", "%Q and a trailing %"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			assert.Equal(t, tt.want, strftime(at, tt.format))
		})
	}
}
