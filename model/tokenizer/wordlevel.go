package tokenizer

import (
	"encoding/json"
	"fmt"
)

// wordLevel is the WordLevel model: every word is one token, or the
// unknown token when the vocabulary lacks it.
type wordLevel struct {
	vocab map[string]int
	rev   map[int]string
	size  int
	unk   string
}

// parseWordLevel reads a WordLevel model; unk_token defaults to "<unk>" as
// in the tokenizers library.
func parseWordLevel(raw json.RawMessage) (*wordLevel, error) {
	c := struct {
		Vocab    map[string]int `json:"vocab"`
		UnkToken *string        `json:"unk_token"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("model WordLevel: %w", err)
	}
	rev, size, err := reverseVocab(c.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model WordLevel: vocab: %w", err)
	}
	m := &wordLevel{vocab: c.Vocab, rev: rev, size: size, unk: "<unk>"}
	if c.UnkToken != nil {
		m.unk = *c.UnkToken
	}
	return m, nil
}

func (m *wordLevel) tokenToID(t string) (int, bool)  { id, ok := m.vocab[t]; return id, ok }
func (m *wordLevel) idToToken(id int) (string, bool) { t, ok := m.rev[id]; return t, ok }
func (m *wordLevel) vocabSize() int                  { return m.size }
func (m *wordLevel) vocabLen() int                   { return len(m.vocab) }

func (m *wordLevel) unkToken() (string, bool) {
	_, ok := m.vocab[m.unk]
	return m.unk, ok
}

// tokenize looks the whole word up, falling back to the unknown token; a
// word neither in the vocabulary nor coverable by an unknown token is an
// error, as in the tokenizers library.
func (m *wordLevel) tokenize(word string) ([]modelToken, error) {
	if id, ok := m.vocab[word]; ok {
		return []modelToken{{id: id, value: word, start: 0, end: len(word)}}, nil
	}
	if id, ok := m.vocab[m.unk]; ok {
		return []modelToken{{id: id, value: m.unk, start: 0, end: len(word)}}, nil
	}
	return nil, fmt.Errorf("WordLevel: %q is not in the vocabulary, which lacks the unknown token %q", word, m.unk)
}
