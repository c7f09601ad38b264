package tokenizer

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// bpe is the byte-pair-encoding model: a word starts as its characters
// (or their byte-fallback tokens) and adjacent pairs are merged in the
// order of the merge list until none applies.
type bpe struct {
	vocab       map[string]int
	rev         map[int]string
	size        int
	merges      map[[2]int]merge
	unk         string // "" when the model has no unknown token
	prefix      string // continuing_subword_prefix
	suffix      string // end_of_word_suffix
	fuseUnk     bool
	byteFB      bool
	ignoreMerge bool
}

// merge is the result of merging one pair: its priority and new token.
type merge struct{ rank, id int }

// parseBPE reads a BPE model. Merges may be "a b" strings or [a, b] pairs.
func parseBPE(raw json.RawMessage) (*bpe, error) {
	var c struct {
		Vocab        map[string]int    `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		UnkToken     *string           `json:"unk_token"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		IgnoreMerges bool              `json:"ignore_merges"`
		Dropout      *float64          `json:"dropout"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("model BPE: %w", err)
	}
	if c.Dropout != nil && *c.Dropout > 0 {
		return nil, fmt.Errorf("model BPE: dropout %g is not supported (encoding would be random)", *c.Dropout)
	}
	rev, size, err := reverseVocab(c.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model BPE: vocab: %w", err)
	}
	m := &bpe{vocab: c.Vocab, rev: rev, size: size, merges: make(map[[2]int]merge, len(c.Merges)),
		fuseUnk: c.FuseUnk, byteFB: c.ByteFallback, ignoreMerge: c.IgnoreMerges}
	if c.UnkToken != nil {
		if _, ok := c.Vocab[*c.UnkToken]; !ok {
			return nil, fmt.Errorf("model BPE: unk_token %q is not in the vocab", *c.UnkToken)
		}
		m.unk = *c.UnkToken
	}
	if c.Prefix != nil {
		m.prefix = *c.Prefix
	}
	if c.Suffix != nil {
		m.suffix = *c.Suffix
	}
	for rank, rm := range c.Merges {
		a, b, err := parseMerge(rm)
		if err != nil {
			return nil, fmt.Errorf("model BPE: merges[%d]: %w", rank, err)
		}
		ida, oka := c.Vocab[a]
		idb, okb := c.Vocab[b]
		joined := a + strings.TrimPrefix(b, m.prefix)
		idn, okn := c.Vocab[joined]
		if !oka || !okb || !okn {
			return nil, fmt.Errorf("model BPE: merges[%d] (%q, %q): a token or the merged %q is not in the vocab", rank, a, b, joined)
		}
		m.merges[[2]int{ida, idb}] = merge{rank: rank, id: idn}
	}
	return m, nil
}

// parseMerge reads one merge entry in either JSON form.
func parseMerge(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("%q is not two space-separated tokens", s)
		}
		return a, b, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("%s is neither \"a b\" nor a pair of strings", raw)
	}
	return pair[0], pair[1], nil
}

func (m *bpe) tokenToID(t string) (int, bool)  { id, ok := m.vocab[t]; return id, ok }
func (m *bpe) idToToken(id int) (string, bool) { t, ok := m.rev[id]; return t, ok }
func (m *bpe) vocabSize() int                  { return m.size }
func (m *bpe) vocabLen() int                   { return len(m.vocab) }
func (m *bpe) unkToken() (string, bool)        { return m.unk, m.unk != "" }

// symbol is one current piece of a word during merging, in a linked list.
type symbol struct {
	id         int
	start, end int // byte range in the word
	prev, next int // indices of neighbours, -1 at the ends
	gone       bool
}

// tokenize splits word into characters and merges them.
func (m *bpe) tokenize(word string) ([]modelToken, error) {
	if m.ignoreMerge {
		if id, ok := m.vocab[word]; ok {
			return []modelToken{{id: id, value: word, start: 0, end: len(word)}}, nil
		}
	}
	syms := m.initialSymbols(word)
	m.mergeAll(syms)
	out := make([]modelToken, 0, len(syms))
	for _, s := range syms {
		if !s.gone {
			out = append(out, modelToken{id: s.id, value: m.rev[s.id], start: s.start, end: s.end})
		}
	}
	return out, nil
}

// initialSymbols maps each character of word to its token, falling back to
// byte tokens or the unknown token (fused when fuse_unk is set); characters
// with neither are dropped, as in the tokenizers library.
func (m *bpe) initialSymbols(word string) []symbol {
	var syms []symbol
	add := func(id, start, end int) {
		syms = append(syms, symbol{id: id, start: start, end: end})
	}
	unkID, unkStart, unkEnd := -1, 0, 0
	flushUnk := func() {
		if unkID >= 0 {
			add(unkID, unkStart, unkEnd)
			unkID = -1
		}
	}
	for i, r := range word {
		end := i + utf8.RuneLen(r)
		s := word[i:end]
		if i > 0 {
			s = m.prefix + s
		}
		if end == len(word) {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			flushUnk()
			add(id, i, end)
			continue
		}
		if m.byteFB {
			if ids, ok := m.byteTokens(s); ok {
				flushUnk()
				for k, id := range ids {
					// Each byte token covers its byte of the character.
					add(id, min(i+k, end-1), min(i+k+1, end))
				}
				continue
			}
		}
		if m.unk == "" {
			continue
		}
		if unkID >= 0 && m.fuseUnk {
			unkEnd = end
			continue
		}
		flushUnk()
		unkID, unkStart, unkEnd = m.vocab[m.unk], i, end
	}
	flushUnk()
	for k := range syms {
		syms[k].prev, syms[k].next = k-1, k+1
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	return syms
}

// byteTokens returns the <0xXX> tokens of s's bytes if all exist.
func (m *bpe) byteTokens(s string) ([]int, bool) {
	ids := make([]int, len(s))
	for k := 0; k < len(s); k++ {
		id, ok := m.vocab[byteToken(s[k])]
		if !ok {
			return nil, false
		}
		ids[k] = id
	}
	return ids, true
}

// mergeAll applies merges lowest rank first, leftmost first among equal
// ranks, exactly as the tokenizers library's priority queue does.
func (m *bpe) mergeAll(syms []symbol) {
	q := &mergeQueue{}
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[[2]int{syms[i].id, syms[i+1].id}]; ok {
			heap.Push(q, queued{pos: i, rank: mg.rank, id: mg.id})
		}
	}
	for q.Len() > 0 {
		top := heap.Pop(q).(queued)
		cur := &syms[top.pos]
		if cur.gone || cur.next < 0 {
			continue
		}
		right := &syms[cur.next]
		if mg, ok := m.merges[[2]int{cur.id, right.id}]; !ok || mg.id != top.id {
			continue // stale entry: a neighbour changed since it was queued
		}
		cur.id, cur.end = top.id, right.end
		right.gone = true
		cur.next = right.next
		if cur.next >= 0 {
			syms[cur.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := m.merges[[2]int{syms[cur.prev].id, cur.id}]; ok {
				heap.Push(q, queued{pos: cur.prev, rank: mg.rank, id: mg.id})
			}
		}
		if cur.next >= 0 {
			if mg, ok := m.merges[[2]int{cur.id, syms[cur.next].id}]; ok {
				heap.Push(q, queued{pos: top.pos, rank: mg.rank, id: mg.id})
			}
		}
	}
}

// queued is a candidate merge of the symbol at pos with its successor.
type queued struct{ pos, rank, id int }

// mergeQueue is a min-heap on (rank, pos).
type mergeQueue []queued

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *mergeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
