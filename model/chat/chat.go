// Package chat renders a conversation with a model's chat template, the
// Jinja template in tokenizer_config.json's "chat_template", exactly as
// transformers' apply_chat_template does.
//
// transformers renders in a sandboxed Jinja2 environment with
// trim_blocks and lstrip_blocks on, the loopcontrols extension, the
// globals raise_exception and strftime_now, its own tojson filter (no
// HTML escaping, non-ASCII kept) and the {% generation %} block that marks
// the assistant's text for assistant masks. The variables are messages,
// tools (None), documents (None), add_generation_prompt and the
// tokenizer's special tokens (bos_token, eos_token, ...). This package
// sets up the same environment on github.com/ardanlabs/jinja, a pure-Go
// engine written for chat templates that applies those Jinja defaults.
//
// Known differences: tojson with indent, floats and a few control
// characters encode as Go's encoding/json does, not as Python's json
// module; chat templates only pass tool schemas through it, and this
// package passes tools=None.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"

	"github.com/ia3/ia3/model/gguf"
)

// Message is one turn of a conversation: a role ("system", "user",
// "assistant", "tool", ...), its text, and any other fields the template
// reads (tool_calls, reasoning_content, name, ...).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// Fields are the message's other fields, given to the template after
	// role and content (in their file order when DecodeMessages read
	// them), with JSON objects as dicts in key order and JSON numbers as
	// Python's json module reads them (int or float).
	Fields []Field `json:"-"`

	// order is the key order of the JSON object the message came from.
	order []string
}

// Field is one extra field of a message: its key and JSON value.
type Field struct {
	Key   string
	Value json.RawMessage
}

// Span is a [Start, End) range of bytes in a rendered text.
type Span struct{ Start, End int }

// Rendered is a rendered conversation.
type Rendered struct {
	// Text is the template's output.
	Text string
	// Generation holds the byte spans of Text that the template's
	// {% generation %} blocks produced, in order: the text transformers
	// marks in its assistant mask. Empty when the template has none.
	Generation []Span
}

// Options are the per-render settings of apply_chat_template.
type Options struct {
	// AddGenerationPrompt appends the tokens that start an assistant
	// turn, for generation.
	AddGenerationPrompt bool
	// Vars are extra template variables, as the keyword arguments
	// apply_chat_template passes on (date_string, enable_thinking, ...).
	Vars map[string]any
	// Now is the clock strftime_now reads; nil means time.Now (Python's
	// datetime.now(), local time).
	Now func() time.Time
}

// ErrNoTemplate reports a tokenizer_config.json without a chat template.
var ErrNoTemplate = errors.New("no chat_template")

// Template is a compiled chat template together with the special tokens
// of its tokenizer. It is safe for concurrent use.
type Template struct {
	source        string
	tmpl          *jinja.Template
	tokens        map[string]string
	hasGeneration bool
}

// specialKeys are the special tokens transformers passes to a template
// (tokenizer.special_tokens_map), as tokenizer_config.json names them.
var specialKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// LoadDir reads the chat template of the tokenizer saved in dir: the file
// chat_template.jinja when present (transformers 4.47 and later save the
// template there, and prefer it to the inline one), else the
// "chat_template" of tokenizer_config.json; the special tokens come from
// tokenizer_config.json. A directory without a template gives an error
// wrapping ErrNoTemplate. A dir that is a GGUF file (a path ending in
// .gguf) is read by LoadGGUF.
func LoadDir(dir string) (*Template, error) {
	if gguf.IsPath(dir) {
		return LoadGGUF(dir)
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chat: %w", err)
	}
	haveCfg := err == nil
	jinjaPath := filepath.Join(dir, "chat_template.jinja")
	src, err := os.ReadFile(jinjaPath)
	switch {
	case err == nil:
		tokens := map[string]string{}
		if haveCfg {
			if tokens, err = configTokens(cfgPath, cfg); err != nil {
				return nil, err
			}
		}
		t, err := New(string(src), tokens)
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %w", jinjaPath, err)
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("chat: %w", err)
	case !haveCfg:
		return nil, fmt.Errorf("chat: %s: no tokenizer_config.json or chat_template.jinja, so %w (save the tokenizer with tokenizer.save_pretrained)", dir, ErrNoTemplate)
	}
	return FromConfig(cfgPath, cfg)
}

// FromConfig compiles the chat template of a tokenizer_config.json's
// content; name (the file's path) is used in errors. The template is a
// string or, as some tokenizers save it, a list of {"name", "template"}
// objects, of which the one named "default" is used. The special tokens
// are strings or AddedToken objects with a "content".
func FromConfig(name string, data []byte) (*Template, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("chat: %s: bad JSON: %w", name, err)
	}
	src, err := configTemplate(cfg["chat_template"])
	if err != nil {
		return nil, fmt.Errorf("chat: %s: chat_template: %w", name, err)
	}
	tokens, err := configTokens(name, data)
	if err != nil {
		return nil, err
	}
	t, err := New(src, tokens)
	if err != nil {
		return nil, fmt.Errorf("chat: %s: %w", name, err)
	}
	return t, nil
}

// configTokens reads the special tokens of a tokenizer_config.json.
func configTokens(name string, data []byte) (map[string]string, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("chat: %s: bad JSON: %w", name, err)
	}
	tokens := map[string]string{}
	for _, key := range specialKeys {
		tok, ok, err := configToken(cfg[key])
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %s: %w", name, key, err)
		}
		if ok {
			tokens[key] = tok
		}
	}
	return tokens, nil
}

// configTemplate picks the template out of the chat_template value.
func configTemplate(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("%w: the tokenizer has no chat template (a base model's tokenizer usually has none; use an instruct model's, or train on {\"text\"} lines)", ErrNoTemplate)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return "", fmt.Errorf("%w: the template is empty", ErrNoTemplate)
		}
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("want a string or a list of {\"name\", \"template\"} objects: %w", err)
	}
	names := make([]string, 0, len(named))
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
		names = append(names, fmt.Sprintf("%q", n.Name))
	}
	return "", fmt.Errorf("%w named \"default\" (have %s)", ErrNoTemplate, strings.Join(names, ", "))
}

// configToken reads a special-token entry: a string, an AddedToken
// object with "content", or null.
func configToken(raw json.RawMessage) (string, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", false, fmt.Errorf("want a string or an object with \"content\", got %s", raw)
	}
	return *obj.Content, true, nil
}

// Generation markers: noncharacters that the rewritten {% generation %}
// block emits around its body and Render removes again.
const (
	genStart = '\uFDD0'
	genEnd   = '\uFDD1'
)

// generationTag matches {% generation %} and {% endgeneration %} with
// their whitespace-control marks.
var generationTag = regexp.MustCompile(`\{%([-+]?)\s*(end)?generation\s*([-+]?)%\}`)

// New compiles src with the given special tokens (bos_token, eos_token,
// ... by name).
func New(src string, tokens map[string]string) (*Template, error) {
	// The engine parses {% generation %} but drops it. Rewrite each tag to
	// an {% if true %} block around a marker: the same tag kind, so
	// trim_blocks, lstrip_blocks and the -/+ marks act on the text around
	// it as they do on the original tag.
	rewritten := generationTag.ReplaceAllStringFunc(src, func(tag string) string {
		m := generationTag.FindStringSubmatch(tag)
		mark := string(genStart)
		if m[2] != "" {
			mark = string(genEnd)
		}
		return "{%" + m[1] + " if true %}" + mark + "{% endif " + m[3] + "%}"
	})
	tmpl, err := compile(rewritten)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	tok := make(map[string]string, len(tokens))
	for k, v := range tokens {
		tok[k] = v
	}
	return &Template{source: src, tmpl: tmpl, tokens: tok, hasGeneration: rewritten != src}, nil
}

// Source returns the template's text.
func (t *Template) Source() string { return t.source }

// HasGeneration reports whether the template marks assistant text with
// {% generation %} blocks.
func (t *Template) HasGeneration() bool { return t.hasGeneration }

// Token returns the special token the tokenizer config names key
// ("bos_token", "eos_token", ...).
func (t *Template) Token(key string) (string, bool) { s, ok := t.tokens[key]; return s, ok }

// Render renders msgs. A template's raise_exception, and any other
// template error, comes back as an error.
func (t *Template) Render(msgs []Message, opts Options) (Rendered, error) {
	if t.hasGeneration {
		for i, m := range msgs {
			if strings.ContainsRune(m.Content, genStart) || strings.ContainsRune(m.Content, genEnd) {
				return Rendered{}, fmt.Errorf("chat: message %d: content holds U+FDD0 or U+FDD1, noncharacters this package reserves for marking {%% generation %%} blocks", i)
			}
		}
	}
	vars := make(map[string]jinja.Value, len(t.tokens)+len(opts.Vars)+6)
	for k, v := range t.tokens {
		vars[k] = jinja.NewString(v)
	}
	for k, v := range opts.Vars {
		vars[k] = jinja.FromGoValue(v)
	}
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d, err := messageValue(m)
		if err != nil {
			return Rendered{}, fmt.Errorf("chat: message %d: %w", i, err)
		}
		list[i] = d
	}
	vars["messages"] = jinja.NewList(list)
	vars["tools"] = jinja.None()
	vars["documents"] = jinja.None()
	vars["add_generation_prompt"] = jinja.NewBool(opts.AddGenerationPrompt)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	vars["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), errors.New("strftime_now: want one format string")
		}
		return jinja.NewString(strftime(now(), args[0].AsString())), nil
	})
	out, err := render(t.tmpl, vars)
	if err != nil {
		return Rendered{}, fmt.Errorf("chat: render: %w", err)
	}
	if !t.hasGeneration {
		return Rendered{Text: out}, nil
	}
	return cutMarkers(out)
}

// compile compiles src, turning an engine panic into an error: a
// template comes from a file, and bad input must not crash the program.
func compile(src string) (tmpl *jinja.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tmpl, err = nil, fmt.Errorf("the template engine failed: %v", r)
		}
	}()
	return jinja.Compile(src)
}

// render renders tmpl, turning an engine panic into an error.
func render(tmpl *jinja.Template, vars map[string]jinja.Value) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("the template engine failed: %v", r)
		}
	}()
	return tmpl.RenderValues(vars)
}

// cutMarkers removes the generation markers from out and returns the
// spans they enclosed.
func cutMarkers(out string) (Rendered, error) {
	startMark, endMark := string(genStart), string(genEnd)
	var b strings.Builder
	b.Grow(len(out))
	var spans []Span
	open := -1
	for i := 0; i < len(out); {
		switch {
		case strings.HasPrefix(out[i:], startMark):
			if open >= 0 {
				return Rendered{}, errors.New("chat: render: nested {% generation %} blocks")
			}
			open = b.Len()
			i += len(startMark)
		case strings.HasPrefix(out[i:], endMark):
			if open < 0 {
				return Rendered{}, errors.New("chat: render: {% endgeneration %} without {% generation %}")
			}
			spans = append(spans, Span{open, b.Len()})
			open = -1
			i += len(endMark)
		default:
			b.WriteByte(out[i])
			i++
		}
	}
	if open >= 0 {
		return Rendered{}, errors.New("chat: render: {% generation %} not closed")
	}
	return Rendered{Text: b.String(), Generation: spans}, nil
}
