package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// wordPiece is BERT's WordPiece model: a word is split greedily into the
// longest vocabulary piece at its start, then the longest piece (spelled
// with the continuing-subword prefix, "##") at the start of the rest, and
// so on. A word that cannot be covered this way, or that is longer than
// max_input_chars_per_word characters, becomes the unknown token whole.
type wordPiece struct {
	vocab    map[string]int
	rev      map[int]string
	size     int
	unk      string
	unkID    int
	prefix   string
	maxChars int
}

// parseWordPiece reads a WordPiece model; absent settings take the
// tokenizers library's defaults ([UNK], "##", 100).
func parseWordPiece(raw json.RawMessage) (*wordPiece, error) {
	c := struct {
		Vocab    map[string]int `json:"vocab"`
		UnkToken *string        `json:"unk_token"`
		Prefix   *string        `json:"continuing_subword_prefix"`
		MaxChars *int           `json:"max_input_chars_per_word"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("model WordPiece: %w", err)
	}
	rev, size, err := reverseVocab(c.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model WordPiece: vocab: %w", err)
	}
	m := &wordPiece{vocab: c.Vocab, rev: rev, size: size, unk: "[UNK]", prefix: "##", maxChars: 100}
	if c.UnkToken != nil {
		m.unk = *c.UnkToken
	}
	if c.Prefix != nil {
		m.prefix = *c.Prefix
	}
	if c.MaxChars != nil {
		if *c.MaxChars < 0 {
			return nil, fmt.Errorf("model WordPiece: max_input_chars_per_word %d is negative", *c.MaxChars)
		}
		m.maxChars = *c.MaxChars
	}
	id, ok := c.Vocab[m.unk]
	if !ok {
		return nil, fmt.Errorf("model WordPiece: unk_token %q is not in the vocab", m.unk)
	}
	m.unkID = id
	return m, nil
}

func (m *wordPiece) tokenToID(t string) (int, bool)  { id, ok := m.vocab[t]; return id, ok }
func (m *wordPiece) idToToken(id int) (string, bool) { t, ok := m.rev[id]; return t, ok }
func (m *wordPiece) vocabSize() int                  { return m.size }
func (m *wordPiece) vocabLen() int                   { return len(m.vocab) }
func (m *wordPiece) unkToken() (string, bool)        { return m.unk, true }

// tokenize splits word greedily, longest match first.
func (m *wordPiece) tokenize(word string) ([]modelToken, error) {
	unk := []modelToken{{id: m.unkID, value: m.unk, start: 0, end: len(word)}}
	if utf8.RuneCountInString(word) > m.maxChars {
		return unk, nil
	}
	var out []modelToken
	for start := 0; start < len(word); {
		end, id, piece := len(word), 0, ""
		for ; end > start; end -= lastRuneLen(word[start:end]) {
			piece = word[start:end]
			if start > 0 {
				piece = m.prefix + piece
			}
			var ok bool
			if id, ok = m.vocab[piece]; ok {
				break
			}
		}
		if end == start {
			return unk, nil
		}
		out = append(out, modelToken{id: id, value: piece, start: start, end: end})
		start = end
	}
	return out, nil
}

// lastRuneLen returns the byte length of the last rune of non-empty s.
func lastRuneLen(s string) int {
	_, size := utf8.DecodeLastRuneInString(s)
	return size
}

// wordPieceDecoder joins WordPiece tokens: a token with the prefix is
// glued to the one before it, any other token after the first gets a
// leading space; cleanup then removes the spaces tokenization put before
// punctuation and inside English contractions.
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

// parseWordPieceDecoder reads a WordPiece decoder; absent settings take
// the library's defaults ("##", cleanup on).
func parseWordPieceDecoder(raw json.RawMessage) (decoder, error) {
	c := struct {
		Prefix  *string `json:"prefix"`
		Cleanup *bool   `json:"cleanup"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decoder WordPiece: %w", err)
	}
	d := wordPieceDecoder{prefix: "##", cleanup: true}
	if c.Prefix != nil {
		d.prefix = *c.Prefix
	}
	if c.Cleanup != nil {
		d.cleanup = *c.Cleanup
	}
	return d, nil
}

func (d wordPieceDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		if i > 0 {
			if rest, ok := strings.CutPrefix(t, d.prefix); ok {
				t = rest
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupTokenization(t)
		}
		out[i] = t
	}
	return out
}

// cleanupTokenization applies, one after the other over the whole string,
// the replacements of the tokenizers library's WordPiece cleanup. They run
// in sequence (not as one pass) because later ones may see the output of
// earlier ones.
func cleanupTokenization(s string) string {
	for _, r := range [...][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}
