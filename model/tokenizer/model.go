package tokenizer

import (
	"encoding/json"
	"fmt"
)

// modelToken is one token the model produced for a word, with its byte
// range within that word.
type modelToken struct {
	id         int
	value      string
	start, end int
}

// model turns one pre-tokenized word into tokens and owns the vocabulary.
type model interface {
	tokenize(word string) ([]modelToken, error)
	tokenToID(token string) (int, bool)
	idToToken(id int) (string, bool)
	// vocabSize is one past the largest id the model knows.
	vocabSize() int
	// vocabLen is the number of entries of the vocabulary (the
	// tokenizers library's get_vocab_size).
	vocabLen() int
	// unkToken returns the unknown token, if the model has one.
	unkToken() (string, bool)
}

// parseModel builds the model described by raw.
func parseModel(raw json.RawMessage) (model, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("model: missing")
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	switch typ {
	case "BPE":
		return parseBPE(raw)
	case "Unigram":
		return parseUnigram(raw)
	case "WordPiece":
		return parseWordPiece(raw)
	case "WordLevel":
		return parseWordLevel(raw)
	}
	return nil, fmt.Errorf("unsupported model type %q", typ)
}

// reverseVocab builds id → token for a vocabulary, rejecting negative or
// duplicate ids.
func reverseVocab(vocab map[string]int) (map[int]string, int, error) {
	rev := make(map[int]string, len(vocab))
	size := 0
	for tok, id := range vocab {
		if id < 0 {
			return nil, 0, fmt.Errorf("token %q has negative id %d", tok, id)
		}
		if other, dup := rev[id]; dup {
			return nil, 0, fmt.Errorf("tokens %q and %q share id %d", other, tok, id)
		}
		rev[id] = tok
		size = max(size, id+1)
	}
	return rev, size, nil
}
