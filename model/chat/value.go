package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ardanlabs/jinja"
)

// messageValue builds the dict a template sees for m: its keys in the
// order of the JSON object it came from, else role, content, then Fields.
func messageValue(m Message) (jinja.Value, error) {
	d := jinja.NewDict()
	dict := d.AsDict()
	order := m.order
	if order == nil {
		order = []string{"role", "content"}
		for _, f := range m.Fields {
			order = append(order, f.Key)
		}
	}
	for _, k := range order {
		switch k {
		case "role":
			dict.Set(k, jinja.NewString(m.Role))
		case "content":
			dict.Set(k, jinja.NewString(m.Content))
		default:
			i := slices.IndexFunc(m.Fields, func(f Field) bool { return f.Key == k })
			if i < 0 {
				continue
			}
			v, err := jsonValue(m.Fields[i].Value)
			if err != nil {
				return jinja.Value{}, fmt.Errorf("field %q: %w", k, err)
			}
			dict.Set(k, v)
		}
	}
	return d, nil
}

// jsonValue converts a JSON value to a template value as Python's json
// module loads it: objects keep their key order, integers stay integers.
func jsonValue(raw json.RawMessage) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Value{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jinja.Value{}, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// decodeValue reads one value from dec.
func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Value{}, err
				}
				key, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				d.AsDict().Set(key, v)
			}
			_, err := dec.Token() // '}'
			return d, err
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				items = append(items, v)
			}
			_, err := dec.Token() // ']'
			return jinja.NewList(items), err
		}
		return jinja.Value{}, fmt.Errorf("unexpected %v", t)
	default:
		// nil, bool, json.Number and string convert as the engine does.
		return jinja.FromGoValue(t), nil
	}
}
