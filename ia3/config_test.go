package ia3

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigRoundTripFixtures reads every adapter_config.json PEFT wrote in
// the fixtures and checks that writing it back gives the same bytes: same
// keys, same null/list/string forms, unknown keys kept.
func TestConfigRoundTripFixtures(t *testing.T) {
	var paths []string
	for _, c := range fixtureCases(t) {
		found, err := filepath.Glob(filepath.Join(c, "adapters", "*", ConfigFile))
		require.NoError(t, err)
		paths = append(paths, found...)
		if _, err := os.Stat(filepath.Join(c, "train", "adapter", ConfigFile)); err == nil {
			paths = append(paths, filepath.Join(c, "train", "adapter", ConfigFile))
		}
	}
	require.NotEmpty(t, paths)
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			want, err := os.ReadFile(p)
			require.NoError(t, err)
			c, err := ReadConfig(p)
			require.NoError(t, err)
			assert.Equal(t, "IA3", c.PeftType)
			assert.True(t, c.TargetModules.IsSet())
			assert.Contains(t, c.Extra, "peft_version")
			got, err := c.Marshal()
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{
			name: "lists and nulls",
			json: `{"peft_type":"IA3","task_type":"CAUSAL_LM","target_modules":["k","v","wo","k"],"feedforward_modules":["wo"],"exclude_modules":null,"modules_to_save":null,"revision":null}`,
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, []string{"k", "v", "wo"}, c.TargetModules.List())
				assert.Equal(t, []string{"wo"}, c.FeedforwardModules.List())
				assert.False(t, c.ExcludeModules.IsSet())
				assert.Nil(t, c.ModulesToSave)
				assert.True(t, c.InitIA3Weights, "default kept when absent")
				assert.Equal(t, "", c.Revision)
			},
		},
		{
			name: "regex strings",
			json: `{"peft_type":"IA3","target_modules":".*\\.h\\.1\\..*(c_attn|c_fc)","feedforward_modules":".*c_fc","exclude_modules":"x"}`,
			check: func(t *testing.T, c *Config) {
				assert.True(t, c.TargetModules.IsPattern())
				assert.Equal(t, `.*\.h\.1\..*(c_attn|c_fc)`, c.TargetModules.Regex())
				assert.Equal(t, ".*c_fc", c.FeedforwardModules.Regex())
				assert.Equal(t, "x", c.ExcludeModules.Regex())
			},
		},
		{
			name: "empty list is set",
			json: `{"peft_type":"IA3","target_modules":["c_attn"],"feedforward_modules":[]}`,
			check: func(t *testing.T, c *Config) {
				assert.True(t, c.FeedforwardModules.IsSet())
				assert.Empty(t, c.FeedforwardModules.List())
				out, err := c.Marshal()
				require.NoError(t, err)
				assert.Contains(t, string(out), `"feedforward_modules": []`)
				assert.Contains(t, string(out), `"exclude_modules": null`)
			},
		},
		{name: "feedforward not a subset", json: `{"peft_type":"IA3","target_modules":["c_attn"],"feedforward_modules":["mlp.c_proj"]}`,
			wantErr: "`feedforward_modules` should be a subset of `target_modules`"},
		{name: "not IA3", json: `{"peft_type":"LORA","target_modules":["q"]}`, wantErr: `peft_type "LORA"`},
		{name: "no peft_type", json: `{"target_modules":["q"]}`, wantErr: "peft_type is missing"},
		{name: "bad target type", json: `{"peft_type":"IA3","target_modules":3}`, wantErr: "field target_modules"},
		{name: "lookahead refused", json: `{"peft_type":"IA3","target_modules":"(?!lm_head).*"}`, wantErr: "lookahead"},
		{name: "not an object", json: `[1]`, wantErr: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestConfigWriteReadBack(t *testing.T) {
	c := NewConfig()
	c.TaskType = TaskSeqCls
	c.TargetModules = Names("query", "value")
	c.FeedforwardModules = Names()
	c.ModulesToSave = []string{"classifier"}
	dir := t.TempDir()
	require.NoError(t, c.Write(dir))
	back, err := LoadConfig(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"query", "value"}, back.TargetModules.List())
	assert.Equal(t, []string{"classifier"}, back.ModulesToSave)
	assert.Equal(t, TaskSeqCls, back.TaskType)
	assert.Equal(t, `"0.21.0"`, string(back.Extra["peft_version"]))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func TestDefaultTables(t *testing.T) {
	for _, mt := range []string{"t5", "mt5", "gpt2", "bloom", "roberta", "opt", "gptj", "gpt_neox", "gpt_neo", "bart",
		"gpt_bigcode", "llama", "llama4", "mistral", "mixtral", "bert", "deberta-v2", "deberta", "falcon", "phi",
		"gemma", "gemma2", "gemma3_text", "qwen2", "qwen3"} {
		tgt, ok := DefaultTargetModules(mt)
		require.True(t, ok, mt)
		ff, ok := DefaultFeedforwardModules(mt)
		require.True(t, ok, mt)
		assert.True(t, Names(ff...).subsetOf(Names(tgt...)), "%s: feedforward %v ⊆ target %v", mt, ff, tgt)
	}
	tgt, _ := DefaultTargetModules("llama")
	assert.Equal(t, []string{"k_proj", "v_proj", "down_proj"}, tgt)
	ff, _ := DefaultFeedforwardModules("mt5")
	assert.Equal(t, []string{}, ff)
	_, ok := DefaultTargetModules("no-such-model")
	assert.False(t, ok)
}

// TestParseConfigErrorsDeterministic checks that several bad fields give
// the same error on every run (fields were read in map order).
func TestParseConfigErrorsDeterministic(t *testing.T) {
	js := []byte(`{"peft_type": 1, "task_type": 2, "revision": 3, "inference_mode": "x", "fan_in_fan_out": "y"}`)
	_, first := ParseConfig(js)
	require.ErrorContains(t, first, "field fan_in_fan_out:")
	for range 50 {
		_, err := ParseConfig(js)
		require.EqualError(t, err, first.Error())
	}
}
