package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// unkPenalty is how much less than the lowest-scored piece an unknown
// character scores, as in SentencePiece.
const unkPenalty = 10.0

// unigram is the Unigram language model: a word is split into the
// sequence of vocabulary pieces with the highest total log-probability
// (Viterbi), characters no piece covers becoming the unknown token, with
// consecutive unknowns fused.
type unigram struct {
	pieces   []string
	scores   []float64
	ids      map[string]int
	unkID    int // -1 when the model has none
	byteFB   bool
	minScore float64
	maxLen   int // longest piece in bytes
}

// parseUnigram reads a Unigram model: vocab is a list of [piece, score].
func parseUnigram(raw json.RawMessage) (*unigram, error) {
	var c struct {
		Vocab        [][2]json.RawMessage `json:"vocab"`
		UnkID        *int                 `json:"unk_id"`
		ByteFallback bool                 `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("model Unigram: %w", err)
	}
	if len(c.Vocab) == 0 {
		return nil, fmt.Errorf("model Unigram: empty vocab")
	}
	m := &unigram{ids: make(map[string]int, len(c.Vocab)), unkID: -1, byteFB: c.ByteFallback, minScore: math.Inf(1)}
	for i, e := range c.Vocab {
		var piece string
		var score float64
		if err := json.Unmarshal(e[0], &piece); err != nil {
			return nil, fmt.Errorf("model Unigram: vocab[%d] piece: %w", i, err)
		}
		if err := json.Unmarshal(e[1], &score); err != nil {
			return nil, fmt.Errorf("model Unigram: vocab[%d] (%q) score: %w", i, piece, err)
		}
		m.ids[piece] = i // a duplicate piece resolves to its last id, as in the tokenizers library
		m.pieces = append(m.pieces, piece)
		m.scores = append(m.scores, score)
		m.minScore = min(m.minScore, score)
		m.maxLen = max(m.maxLen, len(piece))
	}
	if c.UnkID != nil {
		if *c.UnkID < 0 || *c.UnkID >= len(m.pieces) {
			return nil, fmt.Errorf("model Unigram: unk_id %d outside the %d-piece vocab", *c.UnkID, len(m.pieces))
		}
		m.unkID = *c.UnkID
	}
	return m, nil
}

func (m *unigram) tokenToID(t string) (int, bool) { id, ok := m.ids[t]; return id, ok }
func (m *unigram) vocabSize() int                 { return len(m.pieces) }
func (m *unigram) vocabLen() int                  { return len(m.pieces) }

func (m *unigram) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.pieces) {
		return "", false
	}
	return m.pieces[id], true
}

func (m *unigram) unkToken() (string, bool) {
	if m.unkID < 0 {
		return "", false
	}
	return m.pieces[m.unkID], true
}

// bestPath is the best segmentation ending at one byte position.
type bestPath struct {
	score float64
	start int // -1 while unreached
	id    int
}

// tokenize runs the Viterbi search over word and returns its pieces.
func (m *unigram) tokenize(word string) ([]modelToken, error) {
	if word == "" {
		return nil, nil
	}
	best := make([]bestPath, len(word)+1)
	for i := range best {
		best[i].start = -1
	}
	best[0].start = 0
	unkScore := m.minScore - unkPenalty
	relax := func(from, to, id int, score float64) {
		cand := best[from].score + score
		if best[to].start < 0 || cand > best[to].score {
			best[to] = bestPath{score: cand, start: from, id: id}
		}
	}
	for i := 0; i < len(word); {
		if best[i].start < 0 { // unreachable only if an earlier rune was; cannot happen
			return nil, fmt.Errorf("unigram: no segmentation reaches byte %d of %q", i, word)
		}
		_, first := utf8.DecodeRuneInString(word[i:])
		single := false
		for j := i; j < len(word) && j-i < m.maxLen; {
			_, size := utf8.DecodeRuneInString(word[j:])
			j += size
			if id, ok := m.ids[word[i:j]]; ok {
				relax(i, j, id, m.scores[id])
				single = single || j-i == first
			}
		}
		if !single {
			if m.unkID < 0 {
				return nil, fmt.Errorf("unigram: %q has no piece for %q and the model has no unk_id", word, word[i:i+first])
			}
			relax(i, i+first, m.unkID, unkScore)
		}
		i += first
	}
	return m.backtrack(word, best)
}

// backtrack reads the best path back, fusing runs of unknown pieces and
// expanding unknowns into byte tokens when byte fallback is on.
func (m *unigram) backtrack(word string, best []bestPath) ([]modelToken, error) {
	var rev []modelToken
	for end := len(word); end > 0; {
		p := best[end]
		if p.id == m.unkID && len(rev) > 0 && rev[len(rev)-1].id == m.unkID && rev[len(rev)-1].start == end {
			rev[len(rev)-1].start = p.start
		} else {
			rev = append(rev, modelToken{id: p.id, start: p.start, end: end})
		}
		end = p.start
	}
	out := make([]modelToken, 0, len(rev))
	for k := len(rev) - 1; k >= 0; k-- {
		t := rev[k]
		t.value = word[t.start:t.end]
		if t.id == m.unkID {
			if id, ok := m.ids[t.value]; ok { // a fused run can spell a piece
				t.id = id
			} else if m.byteFB {
				if toks, ok := m.byteTokens(t); ok {
					out = append(out, toks...)
					continue
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// byteTokens expands an unknown piece into <0xXX> tokens spanning it.
func (m *unigram) byteTokens(t modelToken) ([]modelToken, bool) {
	out := make([]modelToken, 0, len(t.value))
	for k := 0; k < len(t.value); k++ {
		name := byteToken(t.value[k])
		id, ok := m.ids[name]
		if !ok {
			return nil, false
		}
		out = append(out, modelToken{id: id, value: name, start: t.start, end: t.end})
	}
	return out, true
}
