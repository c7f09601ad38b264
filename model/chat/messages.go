package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DecodeMessages decodes a JSON list of {"role", "content", ...} objects,
// the messages of TRL's conversational format and of OpenAI-style chats.
// Role and content must be strings and the role not empty; other fields
// (tool_calls, reasoning_content, name, ...) are kept in Fields, in file
// order, for the template. Errors name the message by index and the
// field.
func DecodeMessages(data []byte) ([]Message, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("want a list of {\"role\", \"content\"} objects: %s", quote(data))
	}
	if len(list) == 0 {
		return nil, errors.New("the list of messages is empty")
	}
	msgs := make([]Message, len(list))
	for i, m := range list {
		keys, err := objectKeys(m)
		if errors.Is(err, errNotObject) {
			return nil, fmt.Errorf("messages[%d] must be an object {\"role\", \"content\"}: %s", i, quote(m))
		}
		if err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m, &fields); err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		for _, k := range []string{"role", "content"} {
			v, ok := fields[k]
			if !ok {
				return nil, fmt.Errorf("messages[%d]: missing field %q (have %s)", i, k, quoteKeys(keys))
			}
			dst := &msgs[i].Role
			if k == "content" {
				dst = &msgs[i].Content
			}
			if err := json.Unmarshal(v, dst); err != nil || string(v) == "null" {
				return nil, fmt.Errorf("messages[%d]: field %q must be a string: %s", i, k, quote(v))
			}
		}
		if msgs[i].Role == "" {
			return nil, fmt.Errorf("messages[%d]: field \"role\" is empty", i)
		}
		msgs[i].order = keys
		for _, k := range keys {
			if k != "role" && k != "content" {
				msgs[i].Fields = append(msgs[i].Fields, Field{Key: k, Value: fields[k]})
			}
		}
	}
	return msgs, nil
}

// errNotObject reports a JSON value that is not an object.
var errNotObject = errors.New("not an object")

// objectKeys returns the keys of a JSON object in their order, refusing
// anything else and duplicate keys (Python would keep the last value in
// the first key's place; refusing is clearer).
func objectKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		if slices.Contains(keys, k) {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// quoteKeys lists keys, sorted and quoted, for messages.
func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	slices.Sort(q)
	return strings.Join(q, ", ")
}

// quote shortens a JSON value quoted in an error.
func quote(b []byte) string {
	s := string(b)
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
