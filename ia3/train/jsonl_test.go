package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadJSONL checks what a JSONL file may hold: a UTF-8 byte order mark
// at its start is skipped, a line giving both "text" and a prompt is
// refused, and a line longer than the cap is refused before it is read
// whole, each error naming the file and line.
func TestReadJSONL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		maxLine int
		want    []record // sources filled in below
		err     string   // after "<file>:"
	}{
		{name: "byte order mark", content: "\uFEFF{\"text\": \"a\"}\n{\"text\": \"b\"}\n", maxLine: 100,
			want: []record{{text: "a"}, {text: "b"}}},
		{name: "byte order mark then blank line", content: "\uFEFF\n{\"text\": \"b\"}", maxLine: 100,
			want: []record{{text: "b"}}},
		{name: "text and prompt", content: `{"text": "a"}` + "\n" + `{"text": "a", "prompt": "p", "completion": "c"}`, maxLine: 100,
			err: `:2: both "text" and "prompt"/"completion"`},
		{name: "text and completion", content: `{"text": "a", "completion": "c"}`, maxLine: 100,
			err: `:1: both "text" and "prompt"/"completion"`},
		{name: "line at the cap", content: `{"text": "abc"}` + "\n" + `{"text": "d"}`, maxLine: 15,
			want: []record{{text: "abc"}, {text: "d"}}},
		{name: "last line at the cap", content: `{"text": "d"}` + "\n" + `{"text": "abc"}`, maxLine: 15,
			want: []record{{text: "d"}, {text: "abc"}}},
		{name: "line past the cap", content: `{"text": "d"}` + "\n" + `{"text": "abcd"}` + "\n", maxLine: 15,
			err: ":2: line longer than 15 bytes"},
		{name: "last line past the cap", content: `{"text": "d"}` + "\n" + `{"text": "abcd"}`, maxLine: 15,
			err: ":2: line longer than 15 bytes"},
		{name: "line far past the buffer", content: `{"text": "` + strings.Repeat("x", 3<<20) + `"}`, maxLine: 2 << 20,
			err: ":1: line longer than 2097152 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			recs, err := readJSONLLimit(path, taskCausal, tc.maxLine)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), path+tc.err)
				return
			}
			require.NoError(t, err)
			for i := range recs {
				recs[i].source = ""
			}
			assert.Equal(t, tc.want, recs)
		})
	}
}

// TestReadJSONLSources names each record's file and line.
func TestReadJSONLSources(t *testing.T) {
	path := writeJSONL(t, `{"text": "a"}`, ``, `{"text": "b"}`)
	recs, err := readJSONL(path, taskCausal)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, []string{fmt.Sprintf("%s:1", path), fmt.Sprintf("%s:3", path)}, []string{recs[0].source, recs[1].source})
}

// readJSONL reads a whole JSONL file into records, as loadSet reads it.
func readJSONL(path, task string) ([]record, error) {
	return readJSONLLimit(path, task, MaxLineBytes)
}

// readJSONLLimit is readJSONL with lines capped at maxLine bytes.
func readJSONLLimit(path, task string, maxLine int) ([]record, error) {
	var out []record
	err := eachRecord(path, task, maxLine, func(r record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
