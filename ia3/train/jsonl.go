package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/ia3/ia3/internal/regular"
	"github.com/ia3/ia3/model/chat"
)

// record is one JSONL line as the task reads it.
type record struct {
	source string // "file:line", for messages

	text, prompt, completion string
	input, target            string
	label                    float64
	labelName                string // a class given by name (config label2id)
	byName, isPrompt         bool
	messages                 []chat.Message // a chat line (chatdata.go)
}

// MaxLineBytes is the longest JSONL line the trainer reads: 128 MiB. A
// longer line is refused with an error naming the file and line before it
// is read whole. Tokenisation keeps only what survives --max-len, so the
// memory a line costs is bounded by its bytes, not by its token count.
const MaxLineBytes = 128 << 20

// utf8BOM is the byte order mark some editors write at the start of a
// UTF-8 file; it is skipped.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// eachRecord reads path line by line (blank lines skipped, lines capped at
// maxLine bytes), decodes each into a record for task and hands it to fn
// as soon as its line is read, so that only one line's text is held at a
// time. Errors name the file and line; fn's error ends the read and is
// returned as it is.
func eachRecord(path, task string, maxLine int, fn func(record) error) error {
	return eachLine(path, maxLine, recordsOf(path, task, fn))
}

// readRecords reads JSONL from f, named path in messages, into fn.
func readRecords(f io.Reader, path, task string, maxLine int, fn func(record) error) error {
	return scanLines(f, path, maxLine, recordsOf(path, task, fn))
}

// recordsOf decodes each line for task and hands the record to fn.
func recordsOf(path, task string, fn func(record) error) func(line int, data []byte) error {
	return func(line int, data []byte) error {
		rec, err := parseRecord(data, task)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rec.source = fmt.Sprintf("%s:%d", path, line)
		return fn(rec)
	}
}

// eachLine opens path and hands every non-blank line to fn (see
// scanLines).
func eachLine(path string, maxLine int, fn func(line int, data []byte) error) error {
	// A FIFO or device would block the open or never end; refuse it first.
	if err := regular.Check(path); err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	defer f.Close()
	return scanLines(f, path, maxLine, fn)
}

// scanLines hands every non-blank line of f (trimmed, a leading UTF-8 BOM
// skipped, at most maxLine bytes) to fn with its 1-based number, as soon
// as it is read; f is named path in messages. fn's error ends the read and
// is returned as it is. A file without such a line is an error.
func scanLines(f io.Reader, path string, maxLine int, fn func(line int, data []byte) error) error {
	r := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for line := 1; ; line++ {
		data, err := readLine(r, maxLine)
		if errors.Is(err, errLineTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes, the most one example may take", path, line, maxLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: read: %w", path, line, err)
		}
		if line == 1 {
			data = bytes.TrimPrefix(data, utf8BOM)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			n++
			if err := fn(line, trimmed); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if n == 0 {
		return fmt.Errorf("%s: no examples (the file is empty)", path)
	}
	return nil
}

// errLineTooLong reports a line longer than the cap.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line of r (with its newline, if any), or
// errLineTooLong once it passes maxLine bytes without a newline; io.EOF
// comes with the last line.
func readLine(r *bufio.Reader, maxLine int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > maxLine+1 || (len(line)+len(frag) > maxLine && !bytes.HasSuffix(frag, []byte{'\n'})) {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// formats names the fields each task reads, for messages.
var formats = map[string]string{
	taskCausal:  `{"text": ...} or {"prompt": ..., "completion": ...}`,
	taskSeq2Seq: `{"input": ..., "target": ...}`,
	taskSeqCls:  `{"text": ..., "label": class id, class name or (regression) number}`,
}

// parseRecord decodes one JSON object for task.
func parseRecord(data []byte, task string) (record, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return record{}, fmt.Errorf("invalid JSON (want an object %s): %w", formats[task], err)
	}
	var rec record
	str := func(key string, dst *string) (bool, error) {
		v, ok := raw[key]
		if !ok {
			return false, nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return true, fmt.Errorf("field %q must be a string: %s", key, truncateForMessage(string(v)))
		}
		return true, nil
	}
	need := func(keys ...string) error {
		var missing []string
		for _, k := range keys {
			if _, ok := raw[k]; !ok {
				missing = append(missing, `"`+k+`"`)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing field %s (want %s; have %s)", strings.Join(missing, ", "), formats[task], fieldList(raw))
		}
		return nil
	}
	switch task {
	case taskCausal:
		if _, ok := raw["messages"]; ok {
			return parseChat(raw)
		}
		_, hasPrompt := raw["prompt"]
		_, hasCompletion := raw["completion"]
		if _, ok := raw["text"]; ok && (hasPrompt || hasCompletion) {
			return rec, fmt.Errorf("both \"text\" and \"prompt\"/\"completion\": give %s, not both (have %s)", formats[task], fieldList(raw))
		}
		if _, ok := raw["text"]; !ok {
			if err := need("prompt", "completion"); err != nil {
				return rec, err
			}
			rec.isPrompt = true
			if _, err := str("prompt", &rec.prompt); err != nil {
				return rec, err
			}
			_, err := str("completion", &rec.completion)
			return rec, err
		}
		_, err := str("text", &rec.text)
		return rec, err
	case taskSeq2Seq:
		if err := need("input", "target"); err != nil {
			return rec, err
		}
		if _, err := str("input", &rec.input); err != nil {
			return rec, err
		}
		_, err := str("target", &rec.target)
		return rec, err
	case taskSeqCls:
		if err := need("text", "label"); err != nil {
			return rec, err
		}
		if _, err := str("text", &rec.text); err != nil {
			return rec, err
		}
		if json.Unmarshal(raw["label"], &rec.labelName) == nil {
			rec.byName = true
			return rec, nil
		}
		if err := json.Unmarshal(raw["label"], &rec.label); err != nil || math.IsInf(rec.label, 0) {
			return rec, fmt.Errorf("field \"label\" must be a number or a class name: %s", truncateForMessage(string(raw["label"])))
		}
		return rec, nil
	}
	return rec, fmt.Errorf("task %q has no data format", task)
}

// fieldList names an object's keys, sorted, for messages.
func fieldList(raw map[string]json.RawMessage) string {
	if len(raw) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(raw))
	for k := range raw {
		ks = append(ks, `"`+k+`"`)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// truncateForMessage shortens a value quoted in an error.
func truncateForMessage(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
