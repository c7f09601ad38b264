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
)

// record is one JSONL line as the task reads it.
type record struct {
	source string // "file:line", for messages

	text, prompt, completion string
	input, target            string
	label                    float64
	labelName                string // a class given by name (config label2id)
	byName, isPrompt         bool
}

// readJSONL reads path line by line (blank lines skipped) and decodes each
// into a record for task. Errors name the file and line.
func readJSONL(path, task string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []record
	for line := 1; ; line++ {
		data, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: read: %w", path, line, err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			rec, perr := parseRecord(trimmed, task)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, perr)
			}
			rec.source = fmt.Sprintf("%s:%d", path, line)
			out = append(out, rec)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples (the file is empty)", path)
	}
	return out, nil
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
