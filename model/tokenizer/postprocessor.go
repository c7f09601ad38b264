package tokenizer

import (
	"encoding/json"
	"fmt"
)

// encToken is a token of an encoding in progress, its span in bytes of the
// input. Tokens a post-processor adds are marked special and report the
// empty offset (0, 0).
type encToken struct {
	id         int
	value      string
	start, end int
	special    bool
}

// postProcessor adds special tokens around an encoded sequence and may
// adjust offsets.
type postProcessor interface {
	process(toks []encToken, addSpecial bool) []encToken
	// frame returns the tokens put before and after a single sequence.
	frame() (before, after []encToken)
}

// parsePostProcessor builds the post-processor described by raw (nil for
// null).
func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch typ {
	case "Sequence":
		var c struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("post_processor Sequence: %w", err)
		}
		var seq sequenceProcessor
		for i, r := range c.Processors {
			p, err := parsePostProcessor(r)
			if err != nil {
				return nil, fmt.Errorf("post_processor Sequence[%d]: %w", i, err)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	case "ByteLevel":
		var c byteLevelConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("post_processor ByteLevel: %w", err)
		}
		return &framingProcessor{trim: c.TrimOffsets, addPrefixSpace: c.AddPrefixSpace, alphabet: newByteLevelAlphabet()}, nil
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "BertProcessing", "RobertaProcessing":
		var c struct {
			Sep            [2]json.RawMessage `json:"sep"`
			Cls            [2]json.RawMessage `json:"cls"`
			TrimOffsets    bool               `json:"trim_offsets"`
			AddPrefixSpace bool               `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("post_processor %s: %w", typ, err)
		}
		cls, err := parseTokenPair(c.Cls)
		if err != nil {
			return nil, fmt.Errorf("post_processor %s: cls: %w", typ, err)
		}
		sep, err := parseTokenPair(c.Sep)
		if err != nil {
			return nil, fmt.Errorf("post_processor %s: sep: %w", typ, err)
		}
		p := &framingProcessor{before: []encToken{cls}, after: []encToken{sep}}
		if typ == "RobertaProcessing" {
			p.trim, p.addPrefixSpace, p.alphabet = c.TrimOffsets, c.AddPrefixSpace, newByteLevelAlphabet()
		}
		return p, nil
	}
	return nil, fmt.Errorf("unsupported post_processor type %q", typ)
}

// parseTokenPair reads a ["token", id] pair.
func parseTokenPair(p [2]json.RawMessage) (encToken, error) {
	t := encToken{special: true}
	if err := json.Unmarshal(p[0], &t.value); err != nil {
		return t, err
	}
	if err := json.Unmarshal(p[1], &t.id); err != nil {
		return t, err
	}
	return t, nil
}

// sequenceProcessor chains post-processors.
type sequenceProcessor []postProcessor

func (s sequenceProcessor) process(toks []encToken, addSpecial bool) []encToken {
	for _, p := range s {
		toks = p.process(toks, addSpecial)
	}
	return toks
}

func (s sequenceProcessor) frame() (before, after []encToken) {
	for _, p := range s {
		b, a := p.frame()
		before = append(before, b...)
		after = append(after, a...)
	}
	return before, after
}

// framingProcessor puts fixed special tokens around the sequence and
// optionally trims byte-level offsets: ByteLevel, BertProcessing,
// RobertaProcessing and TemplateProcessing for a single sequence.
type framingProcessor struct {
	before, after  []encToken
	trim           bool
	addPrefixSpace bool
	alphabet       *byteLevelAlphabet
}

func (p *framingProcessor) process(toks []encToken, addSpecial bool) []encToken {
	if p.trim {
		trimByteLevelOffsets(toks, p.addPrefixSpace, p.alphabet)
	}
	if !addSpecial || (len(p.before) == 0 && len(p.after) == 0) {
		return toks
	}
	out := make([]encToken, 0, len(p.before)+len(toks)+len(p.after))
	out = append(out, p.before...)
	out = append(out, toks...)
	return append(out, p.after...)
}

func (p *framingProcessor) frame() (before, after []encToken) { return p.before, p.after }

// parseTemplate reads TemplateProcessing's single-sequence template.
func parseTemplate(raw json.RawMessage) (postProcessor, error) {
	var c struct {
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs    []int    `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("post_processor TemplateProcessing: %w", err)
	}
	p := &framingProcessor{}
	seen := false
	for i, piece := range c.Single {
		switch {
		case piece.Sequence != nil:
			if seen || piece.Sequence.ID != "A" {
				return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d]: want one sequence $A, got $%s", i, piece.Sequence.ID)
			}
			seen = true
		case piece.SpecialToken != nil:
			st, ok := c.SpecialTokens[piece.SpecialToken.ID]
			if !ok || len(st.IDs) != len(st.Tokens) {
				return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d]: special token %q is not (consistently) declared", i, piece.SpecialToken.ID)
			}
			for k := range st.IDs {
				t := encToken{id: st.IDs[k], value: st.Tokens[k], special: true}
				if seen {
					p.after = append(p.after, t)
				} else {
					p.before = append(p.before, t)
				}
			}
		default:
			return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d] is neither SpecialToken nor Sequence", i)
		}
	}
	if !seen {
		return nil, fmt.Errorf("post_processor TemplateProcessing: single template lacks the sequence $A")
	}
	return p, nil
}
