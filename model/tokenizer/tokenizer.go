package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text as the
// Hugging Face tokenizer.json it was loaded from specifies. It is
// immutable and safe for concurrent use.
type Tokenizer struct {
	source     string // file the tokenizer came from, for messages
	added      *addedVocab
	normalizer normalizer
	pre        preTokenizer
	model      model
	post       postProcessor
	decoder    decoder
	specials   map[string]SpecialToken // "bos", "eos", "pad", "unk"
}

// Encoding is the result of encoding one text.
type Encoding struct {
	// IDs are the token ids.
	IDs []int
	// Tokens are the token strings (for Unigram unknowns, the text they
	// cover, as the tokenizers library reports them).
	Tokens []string
	// Offsets are [start, end) spans of each token in Unicode code points
	// of the input, as Python's tokenizers reports them; tokens added by
	// the post-processor have (0, 0).
	Offsets [][2]int
	// ByteOffsets are the same spans in bytes of the input.
	ByteOffsets [][2]int
}

// SpecialToken is a special token and its id.
type SpecialToken struct {
	Token string
	ID    int
}

// file is the JSON layout of tokenizer.json.
type file struct {
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
	Padding       *struct {
		PadID    int    `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return parse(path, data)
}

// FromJSON builds a tokenizer from the contents of a tokenizer.json; name
// identifies it in error messages.
func FromJSON(name string, data []byte) (*Tokenizer, error) { return parse(name, data) }

// parse builds every pipeline component, failing on the first one that is
// malformed or of an unsupported type.
func parse(source string, data []byte) (*Tokenizer, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: bad JSON: %w", source, err)
	}
	t := &Tokenizer{source: source, specials: map[string]SpecialToken{}}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}

	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}
	if t.added, err = newAddedVocab(assignAddedIDs(f.AddedTokens, t.model), t.normalizer); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}
	if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}
	if t.decoder, err = parseDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", source, err)
	}
	t.inferSpecials(f)
	return t, nil
}

// inferSpecials records the special tokens tokenizer.json declares: the
// model's unknown token, the padding token, and the tokens the
// post-processor puts before (BOS) and after (EOS) a sequence.
func (t *Tokenizer) inferSpecials(f file) {
	if unk, ok := t.model.unkToken(); ok {
		if id, ok := t.TokenToID(unk); ok {
			t.specials["unk"] = SpecialToken{unk, id}
		}
	}
	if f.Padding != nil && f.Padding.PadToken != "" {
		t.specials["pad"] = SpecialToken{f.Padding.PadToken, f.Padding.PadID}
	}
	if t.post != nil {
		before, after := t.post.frame()
		if len(before) > 0 {
			t.specials["bos"] = SpecialToken{before[0].value, before[0].id}
		}
		if len(after) > 0 {
			last := after[len(after)-1]
			t.specials["eos"] = SpecialToken{last.value, last.id}
		}
	}
}

// Encode tokenizes text and adds the special tokens the post-processor
// declares (BOS/EOS), as transformers' encode does by default. Truncation
// and padding settings of the file are not applied.
func (t *Tokenizer) Encode(text string) (Encoding, error) { return t.encode(text, true) }

// EncodeNoSpecial tokenizes text without adding post-processor special
// tokens (add_special_tokens=False).
func (t *Tokenizer) EncodeNoSpecial(text string) (Encoding, error) { return t.encode(text, false) }

// encode runs the pipeline: added tokens split out of the raw text,
// normalization of the rest, added tokens split out of the normalized
// text, pre-tokenization, the model, then post-processing.
func (t *Tokenizer) encode(text string, addSpecial bool) (enc Encoding, err error) {
	defer recoverMatchError(&err, t.source, "encode")
	if !utf8.ValidString(text) {
		return Encoding{}, fmt.Errorf("tokenizer: %s: encode: text is not valid UTF-8", t.source)
	}
	var toks []encToken
	for _, seg := range t.splitAdded(newNormalized(text, 0), false) {
		if seg.added {
			toks = append(toks, seg.tok)
			continue
		}
		if t.normalizer != nil {
			t.normalizer.normalize(seg.n)
		}
		for _, sub := range t.splitAdded(seg.n, true) {
			if sub.added {
				toks = append(toks, sub.tok)
				continue
			}
			words := []*normalized{sub.n}
			if t.pre != nil {
				words = t.pre.split(sub.n)
			}
			for _, w := range words {
				wt, err := t.encodeWord(w)
				if err != nil {
					return Encoding{}, fmt.Errorf("tokenizer: %s: encode: %w", t.source, err)
				}
				toks = append(toks, wt...)
			}
		}
	}
	if t.post != nil {
		toks = t.post.process(toks, addSpecial)
	}
	return buildEncoding(text, toks), nil
}

// encodeWord runs the model on one word and maps its token spans back to
// the input.
func (t *Tokenizer) encodeWord(w *normalized) ([]encToken, error) {
	if w.len() == 0 {
		return nil, nil
	}
	s := w.String()
	mt, err := t.model.tokenize(s)
	if err != nil {
		return nil, err
	}
	idx := byteToRuneIndex(s)
	out := make([]encToken, 0, len(mt))
	for _, m := range mt {
		tok := encToken{id: m.id, value: m.value}
		if m.end > m.start {
			lo, hi := idx[m.start], idx[m.end-1]
			tok.start, tok.end = w.spans[lo].start, w.spans[hi].end
		} else if m.start < len(s) {
			tok.start = w.spans[idx[m.start]].start
			tok.end = tok.start
		}
		out = append(out, tok)
	}
	return out, nil
}

// segment is a piece of text between added tokens, or an added token.
type segment struct {
	added bool
	tok   encToken    // when added
	n     *normalized // otherwise
}

// splitAdded cuts n at the added tokens matched in this pass (raw text
// when normalizedPass is false, normalized text otherwise).
func (t *Tokenizer) splitAdded(n *normalized, normalizedPass bool) []segment {
	matches := t.added.find(n.runes, normalizedPass)
	if len(matches) == 0 {
		return []segment{{n: n}}
	}
	var out []segment
	prev := 0
	for _, m := range matches {
		if m.lo > prev {
			out = append(out, segment{n: n.slice(prev, m.lo)})
		}
		out = append(out, segment{added: true, tok: encToken{
			id: m.token.ID, value: m.token.Content, start: n.spans[m.lo].start, end: n.spans[m.hi-1].end,
		}})
		prev = m.hi
	}
	if prev < n.len() {
		out = append(out, segment{n: n.slice(prev, n.len())})
	}
	return out
}

// buildEncoding converts tokens to an Encoding, computing code-point
// offsets from byte offsets.
func buildEncoding(text string, toks []encToken) Encoding {
	idx := byteToRuneIndex(text)
	e := Encoding{
		IDs:         make([]int, len(toks)),
		Tokens:      make([]string, len(toks)),
		Offsets:     make([][2]int, len(toks)),
		ByteOffsets: make([][2]int, len(toks)),
	}
	for i, t := range toks {
		e.IDs[i], e.Tokens[i] = t.id, t.value
		if !t.special {
			e.ByteOffsets[i] = [2]int{t.start, t.end}
			e.Offsets[i] = [2]int{idx[t.start], idx[t.end]}
		}
	}
	return e
}

// Decode turns ids back into text through the decoder, leaving out
// special added tokens when skipSpecial is set. An id outside the
// vocabulary is an error naming it and its position.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (text string, err error) {
	defer recoverMatchError(&err, t.source, "decode")
	toks := make([]string, 0, len(ids))
	for i, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok {
			return "", fmt.Errorf("tokenizer: %s: decode: id %d at position %d is not in the vocabulary", t.source, id, i)
		}
		if skipSpecial {
			if a, ok := t.added.byToken[tok]; ok && a.Special {
				continue
			}
		}
		toks = append(toks, tok)
	}
	if t.decoder == nil {
		return strings.Join(toks, " "), nil
	}
	return strings.Join(t.decoder.decode(toks), ""), nil
}

// TokenToID returns the id of a token (added tokens first, then the
// model's vocabulary).
func (t *Tokenizer) TokenToID(token string) (int, bool) {
	if a, ok := t.added.byToken[token]; ok {
		return a.ID, true
	}
	return t.model.tokenToID(token)
}

// IDToToken returns the token of an id (added tokens first, then the
// model's vocabulary).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if a, ok := t.added.byID[id]; ok {
		return a.Content, true
	}
	return t.model.idToToken(id)
}

// VocabSize returns one past the largest id, added tokens included.
func (t *Tokenizer) VocabSize() int {
	n := t.model.vocabSize()
	for id := range t.added.byID {
		n = max(n, id+1)
	}
	return n
}

// AddedTokens returns the added tokens in tokenizer.json order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	return append([]AddedToken(nil), t.added.tokens...)
}

// BOS returns the beginning-of-sequence token where declared.
func (t *Tokenizer) BOS() (SpecialToken, bool) { s, ok := t.specials["bos"]; return s, ok }

// EOS returns the end-of-sequence token where declared.
func (t *Tokenizer) EOS() (SpecialToken, bool) { s, ok := t.specials["eos"]; return s, ok }

// PAD returns the padding token where declared.
func (t *Tokenizer) PAD() (SpecialToken, bool) { s, ok := t.specials["pad"]; return s, ok }

// UNK returns the unknown token where declared.
func (t *Tokenizer) UNK() (SpecialToken, bool) { s, ok := t.specials["unk"]; return s, ok }
