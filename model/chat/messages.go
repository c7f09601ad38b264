package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DecodeMessages decodes a JSON list of {"role", "content"} objects, the
// messages of TRL's conversational format and of OpenAI-style chats.
// Both fields must be strings and the role not empty; other fields (tool
// calls, names, ...) are refused rather than dropped, since the template
// would render them. Errors name the message by index and the field.
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
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m, &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("messages[%d] must be an object {\"role\", \"content\"}: %s", i, quote(m))
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, fmt.Sprintf("%q", k))
			if k != "role" && k != "content" {
				return nil, fmt.Errorf("messages[%d]: field %q is not supported (a message has \"role\" and \"content\" strings)", i, k)
			}
		}
		slices.Sort(keys)
		for _, k := range []string{"role", "content"} {
			v, ok := fields[k]
			if !ok {
				return nil, fmt.Errorf("messages[%d]: missing field %q (have %s)", i, k, strings.Join(keys, ", "))
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
	}
	return msgs, nil
}

// quote shortens a JSON value quoted in an error.
func quote(b []byte) string {
	s := string(b)
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
