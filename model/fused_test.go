package model

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
)

// TestFusedQKV checks which modules report a fused [q | k | v] layout:
// every GPT-2 block's attn.c_attn (hidden each), nothing else, and no
// module of an architecture with separate projections.
func TestFusedQKV(t *testing.T) {
	structure := func(name string) *Model {
		cfg, err := LoadConfig(filepath.Join(modeltest.NamedCase(t, name).Dir, "base"))
		require.NoError(t, err)
		m, err := New(cfg, nil)
		require.NoError(t, err)
		return m
	}
	gpt2 := structure("gpt2")
	h := gpt2.Config().Hidden
	for _, tc := range []struct {
		module string
		ok     bool
	}{
		{"transformer.h.0.attn.c_attn", true},
		{"transformer.h.1.attn.c_attn", true},
		{"transformer.h.2.attn.c_attn", false}, // the fixture has 2 blocks
		{"transformer.h.01.attn.c_attn", false},
		{"transformer.h.-1.attn.c_attn", false},
		{"transformer.h.0.attn.c_proj", false},
		{"transformer.h.0.mlp.c_fc", false},
		{"h.0.attn.c_attn", false},
		{"", false},
	} {
		got, ok := gpt2.FusedQKV(tc.module)
		assert.Equal(t, tc.ok, ok, tc.module)
		if tc.ok {
			assert.Equal(t, FusedQKV{Q: h, K: h, V: h}, got, tc.module)
		}
	}
	for _, name := range []string{"llama", "bert", "t5"} {
		m := structure(name)
		for _, nm := range m.Modules() {
			_, ok := m.FusedQKV(nm.Name)
			assert.False(t, ok, "%s: %s", name, nm.Name)
		}
	}
}
