package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expectedCase is one render of testdata/expected.json, written by
// testdata/gen_expected.py with Python's jinja2 in transformers' chat
// template environment.
type expectedCase struct {
	Template            string   `json:"template"`
	Conversation        string   `json:"conversation"`
	AddGenerationPrompt bool     `json:"add_generation_prompt"`
	Output              *string  `json:"output"`
	Generation          [][2]int `json:"generation"`
	Error               string   `json:"error"`
	// Vars are the extra template variables of the render.
	Vars map[string]any `json:"vars"`
}

// fixedNow is the clock gen_expected.py gives strftime_now.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func loadConversations(t *testing.T) map[string][]Message {
	t.Helper()
	data, err := os.ReadFile("testdata/conversations.json")
	require.NoError(t, err)
	var convs []struct {
		Name     string          `json:"name"`
		Messages json.RawMessage `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(data, &convs))
	out := map[string][]Message{}
	for _, c := range convs {
		msgs, err := DecodeMessages(c.Messages)
		require.NoError(t, err, c.Name)
		out[c.Name] = msgs
	}
	return out
}

// runeSpans converts byte spans of s to code-point spans, as Python
// indexes strings.
func runeSpans(s string, spans []Span) [][2]int {
	out := make([][2]int, 0, len(spans))
	for _, sp := range spans {
		out = append(out, [2]int{utf8.RuneCountInString(s[:sp.Start]), utf8.RuneCountInString(s[:sp.End])})
	}
	return out
}

func TestTemplateParity(t *testing.T) {
	data, err := os.ReadFile("testdata/expected.json")
	require.NoError(t, err)
	var cases []expectedCase
	require.NoError(t, json.Unmarshal(data, &cases))
	require.NotEmpty(t, cases)
	convs := loadConversations(t)
	templates := map[string]*Template{}
	for _, c := range cases {
		name := c.Template + "/" + c.Conversation
		if c.AddGenerationPrompt {
			name += "/gen"
		}
		if len(c.Vars) > 0 {
			name += "/vars"
		}
		t.Run(name, func(t *testing.T) {
			tmpl, ok := templates[c.Template]
			if !ok {
				raw, err := os.ReadFile(filepath.Join("testdata", "configs", c.Template+".json"))
				require.NoError(t, err)
				tmpl, err = FromConfig(c.Template+".json", raw)
				require.NoError(t, err)
				templates[c.Template] = tmpl
			}
			msgs, ok := convs[c.Conversation]
			require.True(t, ok, "conversation %s", c.Conversation)
			got, err := tmpl.Render(msgs, Options{AddGenerationPrompt: c.AddGenerationPrompt, Vars: c.Vars, Now: func() time.Time { return fixedNow }})
			if c.Error != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.Error)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, c.Output)
			assert.Equal(t, *c.Output, got.Text)
			want := c.Generation
			if want == nil {
				want = [][2]int{}
			}
			assert.Equal(t, want, runeSpans(got.Text, got.Generation))
		})
	}
}
