package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// precompiled is SentencePiece's compiled normalizer, the Precompiled
// normalizer of tokenizer.json (T5, FLAN-T5, ALBERT, XLM-R, mBART, ...).
//
// Its precompiled_charsmap is base64 of: a little-endian uint32 byte size
// of the trie, the trie as a Darts double array of little-endian uint32
// units, then the replacement blob: NUL-terminated UTF-8 strings. A key
// of the trie is the UTF-8 of a text piece; its value is the offset in
// the blob of the piece's replacement.
type precompiled struct {
	units []uint32
	blob  []byte
}

// Bit layout of a double-array unit.
const (
	unitLeafBit   = 1 << 8       // the node also ends a key; its value sits at the child base
	unitShiftBit  = 1 << 9       // the offset field is in units of 256
	unitValueMask = 1<<31 - 1    // value of a value unit
	unitLabelMask = 1<<31 | 0xFF // label of a node unit (value units have bit 31 set, so match no label)
)

// unitOffset decodes the XOR distance from a node's unit to its child
// base.
func unitOffset(u uint32) int { return int((u >> 10) << ((u & unitShiftBit) >> 6)) }

// parsePrecompiled decodes and checks a precompiled_charsmap: the sizes
// must agree, the blob must be UTF-8, and every key's value must point at
// the start of a replacement inside the blob, so that normalizing can
// never read out of bounds.
func parsePrecompiled(charsmap string) (*precompiled, error) {
	data, err := base64.StdEncoding.DecodeString(charsmap)
	if err != nil {
		return nil, fmt.Errorf("precompiled_charsmap is not base64: %w", err)
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap has %d bytes, too few for its trie size header", len(data))
	}
	size := binary.LittleEndian.Uint32(data)
	rest := data[4:]
	switch {
	case size == 0 || size%4 != 0:
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d is not a positive multiple of 4", size)
	case uint64(size) > uint64(len(rest)):
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d exceeds the %d bytes that follow the header", size, len(rest))
	}
	p := &precompiled{units: make([]uint32, size/4), blob: rest[size:]}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(rest[4*i:])
	}
	if !utf8.Valid(p.blob) {
		return nil, fmt.Errorf("precompiled_charsmap: replacement blob is not valid UTF-8")
	}
	if err := p.checkValues(); err != nil {
		return nil, fmt.Errorf("precompiled_charsmap: %w", err)
	}
	return p, nil
}

// checkValues walks every node reachable from the root and checks the
// values of the keys that end there.
func (p *precompiled) checkValues() error {
	return p.walkKeys(false, func(key []byte, pos int) error {
		if _, ok := p.valueAt(pos); !ok {
			return fmt.Errorf("key %q has no valid replacement (value unit %d of %d, blob of %d bytes)",
				key, pos, len(p.units), len(p.blob))
		}
		return nil
	})
}

// walkKeys calls visit with keys of the trie and the unit holding their
// value, stopping at the first error. Real charsmaps are built by
// darts-clone from a DAWG, so nodes that end the same key suffixes are
// shared: with all false each unit is visited once (enough to check every
// value, and safe on a malformed array that loops), with all true every
// key is (the walk then trusts the array to hold no cycle).
func (p *precompiled) walkKeys(all bool, visit func(key []byte, pos int) error) error {
	type node struct {
		base int
		key  []byte
	}
	seen := make([]bool, len(p.units)) // a malformed array may reach a unit twice
	stack := []node{{base: unitOffset(p.units[0])}}
	for len(stack) > 0 {
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for c := 1; c < 256; c++ {
			pos := nd.base ^ c
			if pos >= len(p.units) || (seen[pos] && !all) || p.units[pos]&unitLabelMask != uint32(c) {
				continue
			}
			seen[pos] = true
			u := p.units[pos]
			child := node{base: pos ^ unitOffset(u), key: append(append([]byte(nil), nd.key...), byte(c))}
			if u&unitLeafBit != 0 {
				if err := visit(child.key, child.base); err != nil {
					return err
				}
			}
			stack = append(stack, child)
		}
	}
	return nil
}

// valueAt reads the replacement whose offset is stored in unit pos.
func (p *precompiled) valueAt(pos int) (string, bool) {
	if pos >= len(p.units) {
		return "", false
	}
	off := int(p.units[pos] & unitValueMask)
	if off > len(p.blob) || (off < len(p.blob) && !utf8.RuneStart(p.blob[off])) {
		return "", false
	}
	end := off
	for end < len(p.blob) && p.blob[end] != 0 {
		end++
	}
	return string(p.blob[off:end]), true
}

// lookup returns the replacement of the shortest key that is a prefix of
// key (a common-prefix search that stops at the first hit), which is what
// the tokenizers library's Precompiled.transform uses. A NUL byte ends the
// search, as in SentencePiece.
func (p *precompiled) lookup(key []byte) (string, bool) {
	pos := unitOffset(p.units[0])
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= int(c)
		if pos >= len(p.units) || p.units[pos]&unitLabelMask != uint32(c) {
			break
		}
		u := p.units[pos]
		pos ^= unitOffset(u)
		if u&unitLeafBit != 0 {
			return p.valueAt(pos)
		}
	}
	return "", false
}

// normalize rewrites the text as the tokenizers library's Precompiled
// normalizer does: each grapheme cluster shorter than 6 bytes is looked up
// whole and, when a key is a prefix of it, replaced whole by that key's
// replacement; other clusters are rewritten rune by rune, runes without a
// key staying as they are. Alignments follow the library's (see
// appendReplacement and transform).
func (p *precompiled) normalize(n *normalized) {
	var (
		cs       []change
		buf      []byte
		modified bool
	)
	for i := 0; i < len(n.runes); {
		end := graphemeEnd(n.runes, i)
		buf = buf[:0]
		for _, r := range n.runes[i:end] {
			buf = utf8.AppendRune(buf, r)
		}
		if len(buf) < 6 {
			if repl, ok := p.lookup(buf); ok {
				cs = appendReplacement(cs, end-i, repl)
				modified = true
				i = end
				continue
			}
			if end == i+1 { // the rune alone was the key just sought
				cs = append(cs, change{r: n.runes[i]})
				i = end
				continue
			}
		}
		for _, r := range n.runes[i:end] {
			buf = utf8.AppendRune(buf[:0], r)
			if repl, ok := p.lookup(buf); ok {
				cs = appendReplacement(cs, 1, repl)
				modified = true
			} else {
				cs = append(cs, change{r: r})
			}
		}
		i = end
	}
	if modified {
		n.transform(cs)
	}
}
