package ia3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Modules is the value of target_modules, exclude_modules or
// feedforward_modules: unset (JSON null, PEFT's None), a list of module
// names, or one regular expression that must match a whole module name.
// The zero value is unset.
type Modules struct {
	names   []string
	pattern string
	kind    modulesKind
}

type modulesKind uint8

const (
	modulesUnset modulesKind = iota
	modulesList
	modulesPattern
)

// Names returns a list-valued Modules. Duplicates are dropped (PEFT keeps
// the list as a set); order is kept for writing. Names() with no argument
// is an empty list, which is set and different from unset.
func Names(names ...string) Modules {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return Modules{names: out, kind: modulesList}
}

// Pattern returns a regex-valued Modules (matched with Python's
// re.fullmatch semantics, see compilePattern).
func Pattern(re string) Modules { return Modules{pattern: re, kind: modulesPattern} }

// IsSet reports whether a value was given (not JSON null).
func (m Modules) IsSet() bool { return m.kind != modulesUnset }

// IsPattern reports whether the value is a regular expression.
func (m Modules) IsPattern() bool { return m.kind == modulesPattern }

// List returns a copy of the names of a list value, nil otherwise.
func (m Modules) List() []string {
	if m.kind != modulesList {
		return nil
	}
	return slices.Clone(m.names)
}

// Regex returns the pattern of a regex value, "" otherwise.
func (m Modules) Regex() string { return m.pattern }

// String renders the value as PEFT prints it in messages.
func (m Modules) String() string {
	switch m.kind {
	case modulesList:
		return fmt.Sprintf("%q", m.names)
	case modulesPattern:
		return fmt.Sprintf("%q", m.pattern)
	}
	return "None"
}

// contains reports whether a list value holds name.
func (m Modules) contains(name string) bool {
	return m.kind == modulesList && slices.Contains(m.names, name)
}

// subsetOf reports whether every name of list m is in list o.
func (m Modules) subsetOf(o Modules) bool {
	for _, n := range m.names {
		if !o.contains(n) {
			return false
		}
	}
	return true
}

// MarshalJSON writes null, a list or a string.
func (m Modules) MarshalJSON() ([]byte, error) {
	switch m.kind {
	case modulesList:
		if m.names == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(m.names)
	case modulesPattern:
		return json.Marshal(m.pattern)
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads null, a list of strings or a string.
func (m *Modules) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*m = Modules{}
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*m = Pattern(s)
	default:
		var l []string
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("want null, a string or a list of strings: %w", err)
		}
		*m = Names(l...)
	}
	return nil
}
