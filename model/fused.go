package model

import (
	"fmt"
	"strconv"
	"strings"
)

// FusedQKV is the output layout of a fused query/key/value projection:
// its outputs are Q query features, then K key features, then V value
// features, each block contiguous (GPT-2's c_attn). ia3's K/V-only
// extension scales the last K+V outputs and leaves the queries alone.
type FusedQKV struct{ Q, K, V int }

// fusedArchitecture is implemented by the architectures that have fused
// query/key/value projections.
type fusedArchitecture interface {
	fusedQKV(module string) (FusedQKV, bool)
}

// FusedQKV reports whether module (a module name as Modules lists it) is a
// fused query/key/value projection whose outputs are laid out [q | k | v],
// and that layout. Only GPT-2's "transformer.h.N.attn.c_attn" is one among
// the supported architectures; Llama, T5 and BERT project q, k and v
// separately.
func (m *Model) FusedQKV(module string) (FusedQKV, bool) {
	if f, ok := m.arch.(fusedArchitecture); ok {
		return f.fusedQKV(module)
	}
	return FusedQKV{}, false
}

// fusedQKV recognises transformer.h.N.attn.c_attn for a block N of the model.
func (m *gpt2) fusedQKV(module string) (FusedQKV, bool) {
	rest, ok := strings.CutPrefix(module, "transformer.h.")
	if !ok {
		return FusedQKV{}, false
	}
	idx, ok := strings.CutSuffix(rest, ".attn.c_attn")
	if !ok {
		return FusedQKV{}, false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(m.blocks) || fmt.Sprint(i) != idx {
		return FusedQKV{}, false
	}
	h := m.cfg.Hidden
	return FusedQKV{Q: h, K: h, V: h}, true
}
