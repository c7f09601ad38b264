package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// charsmapBytes compiles mappings (key → replacement) into SentencePiece's
// precompiled_charsmap layout: the trie size, a Darts double array, and
// the NUL-terminated replacements. Each node gets the lowest base that no
// other node uses and whose child (and value) slots are free, searched
// from the first 256-unit block with a free unit, so the children of
// different nodes interleave as in real charsmaps.
func charsmapBytes(t testing.TB, mappings map[string]string) []byte {
	t.Helper()
	type trieNode struct {
		children map[byte]*trieNode
		value    int
		leaf     bool
	}
	newNode := func() *trieNode { return &trieNode{children: map[byte]*trieNode{}} }
	root := newNode()
	keys := make([]string, 0, len(mappings))
	for k := range mappings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var blob []byte
	for _, k := range keys {
		require.NotEmpty(t, k)
		nd := root
		for i := 0; i < len(k); i++ {
			child, ok := nd.children[k[i]]
			if !ok {
				child = newNode()
				nd.children[k[i]] = child
			}
			nd = child
		}
		nd.leaf, nd.value = true, len(blob)
		blob = append(append(blob, mappings[k]...), 0)
	}

	units := []uint32{0}
	used := []bool{true}
	grow := func(n int) {
		for len(units) < n {
			units = append(units, 0)
			used = append(used, false)
		}
	}
	free := func(pos int) bool { return pos >= len(used) || !used[pos] }
	firstFree := 1 // every unit below is used; children of a base share its 256-block
	take := func(pos int) {
		grow(pos + 1)
		used[pos] = true
		for firstFree < len(used) && used[firstFree] {
			firstFree++
		}
	}
	// Each base serves one node only, as in Darts: two nodes sharing a base
	// would see each other's children.
	baseTaken := map[int]bool{}
	var place func(nd *trieNode, pos int)
	place = func(nd *trieNode, pos int) {
		labels := make([]int, 0, len(nd.children))
		for c := range nd.children {
			labels = append(labels, int(c))
		}
		sort.Ints(labels)
		base := max(1, firstFree&^0xFF)
		for ; ; base++ {
			ok := !baseTaken[base] && (!nd.leaf || free(base))
			for _, c := range labels {
				ok = ok && free(base^c)
			}
			if ok {
				break
			}
		}
		baseTaken[base] = true
		offset := pos ^ base
		require.Less(t, offset, 1<<21, "test charsmap too large for unshifted offsets")
		units[pos] |= uint32(offset) << 10
		if nd.leaf {
			take(base)
			units[pos] |= unitLeafBit
			units[base] = 1<<31 | uint32(nd.value)
		}
		for _, c := range labels {
			take(base ^ c)
			units[base^c] = uint32(c)
		}
		for _, c := range labels {
			place(nd.children[byte(c)], base^c)
		}
	}
	place(root, 0)

	out := binary.LittleEndian.AppendUint32(nil, uint32(4*len(units)))
	for _, u := range units {
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return append(out, blob...)
}

// buildCharsmap returns charsmapBytes as the base64 of tokenizer.json.
func buildCharsmap(t testing.TB, mappings map[string]string) string {
	return base64.StdEncoding.EncodeToString(charsmapBytes(t, mappings))
}
