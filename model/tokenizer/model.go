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
		// Files written by tokenizers before 0.9 (bert-base-uncased's on
		// the Hub among them) give the model no "type"; HF then takes
		// the first model whose fields fit.
		if typ = untypedModel(raw); typ == "" {
			return nil, fmt.Errorf("model: %w, and its fields fit no model", err)
		}
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

// untypedModel returns the model type HF tokenizers infers for a model
// without a "type" field, or "" if none fits. HF tries BPE, WordPiece,
// WordLevel and Unigram in turn, each needing its required fields (unknown
// ones are ignored): BPE a vocabulary map and merges; WordPiece a
// vocabulary map, unk_token, continuing_subword_prefix and
// max_input_chars_per_word; WordLevel a vocabulary map and unk_token;
// Unigram a vocabulary list.
func untypedModel(raw json.RawMessage) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return ""
	}
	fits := func(v any, keys ...string) bool {
		for _, k := range keys {
			if isNull(fields[k]) {
				return false
			}
		}
		return json.Unmarshal(fields["vocab"], v) == nil
	}
	var vocabMap map[string]int
	var merges []json.RawMessage
	var vocabList [][2]json.RawMessage
	switch {
	case fits(&vocabMap, "vocab", "merges") && json.Unmarshal(fields["merges"], &merges) == nil:
		return "BPE"
	case fits(&vocabMap, "vocab", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word"):
		return "WordPiece"
	case fits(&vocabMap, "vocab", "unk_token"):
		return "WordLevel"
	case fits(&vocabList, "vocab"):
		return "Unigram"
	}
	return ""
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
