package model

import (
	"fmt"
	"math"
)

// cfgParser reads typed fields from a decoded config.json. A missing or
// null field takes transformers' default; a field of the wrong type records
// the first error, naming the field, and later reads are no-ops.
type cfgParser struct {
	raw    map[string]any
	prefix string // for nested objects: "rope_parameters."
	err    error
}

func (p *cfgParser) fail(key, msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("field %q: %s", p.prefix+key, msg)
	}
}

// value returns the field, or nil when missing or null.
func (p *cfgParser) value(key string) any {
	if p.err != nil {
		return nil
	}
	return p.raw[key]
}

func (p *cfgParser) int(key string, def int) int {
	v := p.value(key)
	if v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		p.fail(key, fmt.Sprintf("want an integer, got %v", v))
		return def
	}
	return int(f)
}

// optInt is int for fields that may legitimately be null (n_inner,
// pad_token_id); a list (eos_token_id may be one) takes its first entry.
func (p *cfgParser) optInt(key string, def int) int {
	if l, ok := p.value(key).([]any); ok {
		if len(l) == 0 {
			return def
		}
		sub := &cfgParser{raw: map[string]any{key: l[0]}, prefix: p.prefix}
		n := sub.int(key, def)
		if sub.err != nil {
			p.err = sub.err
		}
		return n
	}
	return p.int(key, def)
}

func (p *cfgParser) float(key string, def float64) float64 {
	v := p.value(key)
	if v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		p.fail(key, fmt.Sprintf("want a number, got %v", v))
		return def
	}
	return f
}

func (p *cfgParser) bool(key string, def bool) bool {
	v := p.value(key)
	if v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.fail(key, fmt.Sprintf("want true or false, got %v", v))
		return def
	}
	return b
}

func (p *cfgParser) str(key, def string) string {
	v := p.value(key)
	if v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, fmt.Sprintf("want a string, got %v", v))
		return def
	}
	return s
}

func (p *cfgParser) strings(key string) []string {
	v := p.value(key)
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		p.fail(key, fmt.Sprintf("want a list of strings, got %v", v))
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			p.fail(key, fmt.Sprintf("want a list of strings, got element %v", e))
			return nil
		}
		out = append(out, s)
	}
	return out
}
