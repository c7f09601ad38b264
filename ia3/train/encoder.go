package train

import (
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/tokenizer"
)

// encoder is the part of a tokenizer the data pipeline uses.
type encoder interface {
	// encode returns the ids of text, with the special tokens the
	// tokenizer adds when special is set, and how many trailing ids are
	// such special tokens (kept when truncating).
	encode(text string, special bool) (ids []int32, trailing int, err error)
	// eos returns the end-of-sequence id, if any.
	eos() (int32, bool)
	// pad returns the padding id.
	pad() int32
}

// hfEncoder adapts a tokenizer.json tokenizer.
type hfEncoder struct {
	tok   *tokenizer.Tokenizer
	padID int32
}

// newHFEncoder pads with the tokenizer's padding token, else the model's
// pad_token_id, else the end-of-sequence token, else id 0 (padding is
// masked, so only its range matters).
func newHFEncoder(tok *tokenizer.Tokenizer, cfg *model.Config) *hfEncoder {
	e := &hfEncoder{tok: tok}
	if s, ok := tok.PAD(); ok {
		e.padID = int32(s.ID)
	} else if cfg.PadTokenID >= 0 && cfg.PadTokenID < cfg.VocabSize {
		e.padID = int32(cfg.PadTokenID)
	} else if s, ok := tok.EOS(); ok {
		e.padID = int32(s.ID)
	}
	return e
}

func (e *hfEncoder) encode(text string, special bool) ([]int32, int, error) {
	var enc tokenizer.Encoding
	var err error
	if special {
		enc, err = e.tok.Encode(text)
	} else {
		enc, err = e.tok.EncodeNoSpecial(text)
	}
	if err != nil {
		return nil, 0, err
	}
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	// Tokens the post-processor appended cover no text: offsets (0, 0).
	trailing := 0
	for i := len(enc.Offsets) - 1; i > 0 && special && len(text) > 0; i-- {
		if enc.Offsets[i] != [2]int{0, 0} {
			break
		}
		trailing++
	}
	return ids, trailing, nil
}

func (e *hfEncoder) eos() (int32, bool) {
	s, ok := e.tok.EOS()
	return int32(s.ID), ok
}

func (e *hfEncoder) pad() int32 { return e.padID }
