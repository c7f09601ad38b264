package ia3

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		pat     string
		match   []string
		nomatch []string
		wantErr string
	}{
		{pat: `.*\.h\.1\..*(c_attn|c_fc)`, match: []string{"transformer.h.1.attn.c_attn", "transformer.h.1.mlp.c_fc"},
			nomatch: []string{"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn.x"}},
		{pat: `.*decoder.*(SelfAttention|EncDecAttention)\.(k|v)$`, match: []string{"decoder.block.0.layer.1.EncDecAttention.v"},
			nomatch: []string{"encoder.block.0.layer.0.SelfAttention.k"}},
		{pat: `down_proj`, match: []string{"down_proj"}, nomatch: []string{"model.layers.1.mlp.down_proj"}},
		{pat: `a|b`, match: []string{"a", "b"}, nomatch: []string{"ab"}},
		{pat: `k\Z`, match: []string{"k"}, nomatch: []string{"kk"}},
		{pat: `[(?=]x`, match: []string{"(x", "=x"}},
		{pat: `\d+?\.q`, match: []string{"12.q"}},
		{pat: `(?P<blk>\d+)\.q`, match: []string{"3.q"}},
		{pat: `(?=x)x`, wantErr: "lookahead"},
		{pat: `.*(?<!lm)_head`, wantErr: "lookbehind"},
		{pat: `(a)\1`, wantErr: "backreference"},
		{pat: `(?P<n>a)(?P=n)`, wantErr: "named backreference"},
		{pat: `a++`, wantErr: "possessive"},
		{pat: `(?>a)`, wantErr: "atomic"},
		{pat: `(a`, wantErr: "not supported by Go's regexp"},
		{pat: `a\`, wantErr: "lone backslash"},
	}
	for _, tc := range tests {
		t.Run(tc.pat, func(t *testing.T) {
			re, err := compilePattern(tc.pat)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.pat), "the error names the pattern")
				return
			}
			require.NoError(t, err)
			for _, s := range tc.match {
				assert.True(t, re.MatchString(s), "%q should fully match %q", tc.pat, s)
			}
			for _, s := range tc.nomatch {
				assert.False(t, re.MatchString(s), "%q should not fully match %q", tc.pat, s)
			}
		})
	}
}

// layerNames lists an attached adapter's layers and feed-forward flags.
func layerNames(m *Model) (names []string, ff []bool) {
	for _, l := range m.Layers() {
		names = append(names, l.Name)
		ff = append(ff, l.Feedforward)
	}
	return names, ff
}

func TestMatchingRules(t *testing.T) {
	cfg := func(mod func(c *Config)) *Config {
		c := NewConfig()
		mod(c)
		return c
	}
	tests := []struct {
		name    string
		tree    string
		cfg     *Config
		layers  []string
		ff      []bool
		wantErr string
	}{
		{name: "gpt2 defaults", tree: "gpt2", cfg: NewConfig(),
			layers: []string{"transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_attn", "transformer.h.1.mlp.c_proj"},
			ff:     []bool{false, true, false, true}},
		{name: "list suffix needs a dot boundary", tree: "gpt2", cfg: cfg(func(c *Config) { c.TargetModules = Names("attn"); c.FeedforwardModules = Names() }),
			wantErr: "is not supported"},
		{name: "regex fullmatch and regex feedforward", tree: "gpt2",
			cfg: cfg(func(c *Config) {
				c.TargetModules = Pattern(`.*\.h\.1\..*(c_attn|c_fc)`)
				c.FeedforwardModules = Pattern(`.*c_fc`)
			}),
			layers: []string{"transformer.h.1.attn.c_attn", "transformer.h.1.mlp.c_fc"}, ff: []bool{false, true}},
		{name: "feedforward list is a plain suffix", tree: "gpt2",
			cfg:    cfg(func(c *Config) { c.TargetModules = Names("c_proj", "proj"); c.FeedforwardModules = Names("proj") }),
			layers: []string{"transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"},
			ff:     []bool{true, true, true, true}},
		{name: "feedforward string is a full match", tree: "gpt2",
			cfg:    cfg(func(c *Config) { c.TargetModules = Names("mlp.c_proj"); c.FeedforwardModules = Pattern("c_proj") }),
			layers: []string{"transformer.h.0.mlp.c_proj", "transformer.h.1.mlp.c_proj"}, ff: []bool{false, false}},
		{name: "exclude list", tree: "gpt2",
			cfg: cfg(func(c *Config) {
				c.TargetModules = Names("c_attn")
				c.FeedforwardModules = Names()
				c.ExcludeModules = Names("h.0.attn.c_attn")
			}),
			layers: []string{"transformer.h.1.attn.c_attn"}, ff: []bool{false}},
		{name: "all-linear skips the output layer", tree: "gpt2",
			cfg:    cfg(func(c *Config) { c.TargetModules = Pattern("ALL-LINEAR"); c.FeedforwardModules = Names() }),
			layers: []string{"transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj"},
			ff:     []bool{false, false, false, false, false, false, false, false}},
		{name: "nothing found", tree: "gpt2", cfg: cfg(func(c *Config) { c.TargetModules = Names("q_proj") }),
			wantErr: "Target modules [\"q_proj\"] not found in the base model"},
		{name: "all excluded", tree: "gpt2",
			cfg:     cfg(func(c *Config) { c.TargetModules = Names("c_attn"); c.ExcludeModules = Pattern(".*") }),
			wantErr: "All modules were excluded"},
		{name: "unknown model type without targets", tree: "unknown", cfg: NewConfig(),
			wantErr: "Please specify `target_modules`"},
		{name: "modules_to_save never adapted", tree: "bert",
			cfg: cfg(func(c *Config) {
				c.TaskType = TaskSeqCls
				c.TargetModules = Pattern("all-linear")
				c.ModulesToSave = []string{"pooler"}
			}),
			layers: []string{"bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.key", "bert.encoder.layer.0.attention.self.value",
				"bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.intermediate.dense", "bert.encoder.layer.0.output.dense"},
			ff: []bool{false, false, false, true, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mods, mt, task := gpt2Tree(), "gpt2", TaskCausalLM
			switch tc.tree {
			case "bert":
				mods, mt, task = bertTree(), "bert", TaskSeqCls
			case "unknown":
				mt = "unknown"
			}
			m, err := structureModel(t, mods, mt, task, tc.cfg)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			names, ff := layerNames(m)
			assert.Equal(t, tc.layers, names)
			assert.Equal(t, tc.ff, ff)
		})
	}
}

func TestSeqClsModulesToSave(t *testing.T) {
	c := NewConfig()
	c.TaskType = TaskSeqCls
	c.ModulesToSave = []string{"pooler"}
	m, err := structureModel(t, bertTree(), "bert", TaskSeqCls, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"bert.pooler", "classifier"}, m.ModulesToSave())
	assert.Equal(t, []string{"pooler", "classifier", "score"}, m.Config(DefaultAdapter).ModulesToSave)
	var names []string
	for _, p := range m.TrainableParams() {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{
		"base_model.model.bert.encoder.layer.0.attention.self.key.ia3_l.default",
		"base_model.model.bert.encoder.layer.0.attention.self.value.ia3_l.default",
		"base_model.model.bert.encoder.layer.0.attention.output.dense.ia3_l.default",
		"base_model.model.bert.encoder.layer.0.output.dense.ia3_l.default",
		"base_model.model.bert.pooler.modules_to_save.default.dense.weight",
		"base_model.model.bert.pooler.modules_to_save.default.dense.bias",
		"base_model.model.classifier.modules_to_save.default.weight",
		"base_model.model.classifier.modules_to_save.default.bias",
	}, names)
}

// TestTaskTypeDecidesHead: as PEFT, only a SEQ_CLS config wraps the head.
func TestTaskTypeDecidesHead(t *testing.T) {
	m, err := structureModel(t, bertTree(), "bert", TaskSeqCls, NewConfig())
	require.NoError(t, err)
	assert.Empty(t, m.ModulesToSave())
	assert.Nil(t, m.Config(DefaultAdapter).ModulesToSave)
	assert.Equal(t, "", m.Config(DefaultAdapter).TaskType)
}

func TestTrainableParametersLine(t *testing.T) {
	assert.Equal(t, "trainable params: 1,234,567 || all params: 1,000,000,000 || trainable%: 0.1235",
		TrainableParametersLine(1234567, 1000000000))
	assert.Equal(t, "trainable params: 0 || all params: 999 || trainable%: 0.0000", TrainableParametersLine(0, 999))
	assert.Equal(t, "-1,000", commas(-1000))
}

func TestAdapterNames(t *testing.T) {
	m, err := structureModel(t, gpt2Tree(), "gpt2", TaskCausalLM, NewConfig())
	require.NoError(t, err)
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "../x"} {
		err := m.AddAdapter(bad, NewConfig())
		require.Error(t, err, "%q", bad)
	}
	require.Error(t, m.AddAdapter(DefaultAdapter, NewConfig()), "duplicate name")
	require.NoError(t, m.AddAdapter("b", NewConfig()))
	assert.Equal(t, []string{"default", "b"}, m.Adapters())
	assert.Equal(t, []string{"default"}, m.ActiveAdapters())
	require.EqualError(t, m.DeleteAdapter("zzz"), "Adapter zzz does not exist")
	require.NoError(t, m.DeleteAdapter(DefaultAdapter))
	assert.Equal(t, []string{"b"}, m.ActiveAdapters(), "PEFT activates the first remaining adapter")
	require.NoError(t, m.DeleteAdapter("b"))
	assert.Empty(t, m.ActiveAdapters())
	assert.Empty(t, m.Layers())
}
