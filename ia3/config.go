package ia3

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ia3/ia3/internal/atomicfile"
)

// ConfigFile is the name PEFT gives an adapter's configuration file.
const ConfigFile = "adapter_config.json"

// FusedKVOnlyKey is the adapter_config.json key of Config.FusedKVOnly, an
// ia3 extension that PEFT ignores.
const FusedKVOnlyKey = "ia3_fused_kv_only"

// PEFTVersion is the PEFT release whose behaviour and files this package
// reproduces; it is written as peft_version when a config has none.
const PEFTVersion = "0.21.0"

// Task types PEFT knows for the models this project runs.
const (
	TaskCausalLM = "CAUSAL_LM"
	TaskSeq2Seq  = "SEQ_2_SEQ_LM"
	TaskSeqCls   = "SEQ_CLS"
)

// Config mirrors PEFT's IA3Config, field for field as adapter_config.json
// holds it. Unknown keys of a file read (auto_mapping, peft_version, ...)
// are kept in Extra and written back unchanged.
type Config struct {
	PeftType            string // always "IA3"
	TaskType            string // "" is null
	BaseModelNameOrPath string // "" is null
	Revision            string // "" is null
	InferenceMode       bool
	// TargetModules selects the adapted layers: names (exact or "."-suffix
	// match), a regex (full match), or the pattern "all-linear". Unset
	// means the model type's default.
	TargetModules Modules
	// ExcludeModules removes layers TargetModules would select.
	ExcludeModules Modules
	// FeedforwardModules marks the targets whose input (not output) is
	// scaled: names are plain suffixes, a regex must match the whole name.
	// Unset means the model type's default.
	FeedforwardModules Modules
	FanInFanOut        bool
	// ModulesToSave lists modules trained and saved in full beside the
	// vectors; nil is null.
	ModulesToSave  []string
	InitIA3Weights bool
	// FusedKVOnly is an ia3 extension PEFT does not have (key
	// FusedKVOnlyKey, written only when set): each fused query/key/value
	// projection among the targets (GPT-2's c_attn) gets a vector over its
	// key and value outputs only, so the queries are not rescaled, as in
	// the (IA)³ paper; PEFT's vector covers all three (peft#1483). Other
	// targets are unaffected. PEFT ignores the key and then cannot load
	// the adapter (its c_attn vector has another shape).
	FusedKVOnly bool
	// Extra holds keys this package does not interpret, as read.
	Extra map[string]json.RawMessage
}

// NewConfig returns PEFT's IA3Config() defaults.
func NewConfig() *Config {
	return &Config{PeftType: "IA3", InitIA3Weights: true}
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	d := *c
	d.TargetModules = cloneModules(c.TargetModules)
	d.ExcludeModules = cloneModules(c.ExcludeModules)
	d.FeedforwardModules = cloneModules(c.FeedforwardModules)
	d.ModulesToSave = slices.Clone(c.ModulesToSave)
	if c.Extra != nil {
		d.Extra = make(map[string]json.RawMessage, len(c.Extra))
		for k, v := range c.Extra {
			d.Extra[k] = slices.Clone(v)
		}
	}
	return &d
}

func cloneModules(m Modules) Modules {
	m.names = slices.Clone(m.names)
	return m
}

// Validate applies IA3Config.__post_init__'s checks: the type is IA3, and
// when both target_modules and feedforward_modules are lists the second is
// a subset of the first. Patterns are checked to be translatable.
func (c *Config) Validate() error {
	if c.PeftType != "IA3" {
		return fmt.Errorf("peft_type %q: this package reads only IA3 adapters", c.PeftType)
	}
	if c.TargetModules.kind == modulesList && c.FeedforwardModules.kind == modulesList &&
		!c.FeedforwardModules.subsetOf(c.TargetModules) {
		return errors.New("`feedforward_modules` should be a subset of `target_modules`")
	}
	for _, f := range []struct {
		name string
		m    Modules
	}{{"target_modules", c.TargetModules}, {"exclude_modules", c.ExcludeModules}, {"feedforward_modules", c.FeedforwardModules}} {
		if f.m.IsPattern() && !(f.name == "target_modules" && isAllLinear(f.m)) {
			if _, err := compilePattern(f.m.pattern); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
	}
	return nil
}

// ReadConfig reads and validates an adapter_config.json.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read adapter config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("adapter config %s: %w", path, err)
	}
	return c, nil
}

// LoadConfig reads dir/adapter_config.json.
func LoadConfig(dir string) (*Config, error) {
	return ReadConfig(filepath.Join(dir, ConfigFile))
}

// ParseConfig decodes and validates adapter_config.json content.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	c := NewConfig()
	c.PeftType = ""
	fields := map[string]any{
		"peft_type":               &c.PeftType,
		"task_type":               &c.TaskType,
		"base_model_name_or_path": &c.BaseModelNameOrPath,
		"revision":                &c.Revision,
		"inference_mode":          &c.InferenceMode,
		"target_modules":          &c.TargetModules,
		"exclude_modules":         &c.ExcludeModules,
		"feedforward_modules":     &c.FeedforwardModules,
		"fan_in_fan_out":          &c.FanInFanOut,
		"modules_to_save":         &c.ModulesToSave,
		"init_ia3_weights":        &c.InitIA3Weights,
		FusedKVOnlyKey:            &c.FusedKVOnly,
	}
	// Sorted, so that a file with several bad fields always reports the
	// same one.
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		v := raw[key]
		dst, known := fields[key]
		if !known {
			if c.Extra == nil {
				c.Extra = map[string]json.RawMessage{}
			}
			c.Extra[key] = v
			continue
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if _, isModules := dst.(*Modules); !isModules && key != "modules_to_save" {
				continue // a null string or bool keeps its default
			}
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, fmt.Errorf("field %s: %w", key, err)
		}
	}
	if _, ok := raw["peft_type"]; !ok {
		return nil, errors.New("field peft_type is missing")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Marshal encodes the config as PEFT writes adapter_config.json: every
// field, null where unset, keys sorted, two-space indent.
func (c *Config) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.Extra {
		out[k] = v
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	out["peft_type"] = c.PeftType
	out["task_type"] = nullable(c.TaskType)
	out["base_model_name_or_path"] = nullable(c.BaseModelNameOrPath)
	out["revision"] = nullable(c.Revision)
	out["inference_mode"] = c.InferenceMode
	out["target_modules"] = c.TargetModules
	out["exclude_modules"] = c.ExcludeModules
	out["feedforward_modules"] = c.FeedforwardModules
	out["fan_in_fan_out"] = c.FanInFanOut
	if c.ModulesToSave == nil {
		out["modules_to_save"] = nil
	} else {
		out["modules_to_save"] = c.ModulesToSave
	}
	out["init_ia3_weights"] = c.InitIA3Weights
	if c.FusedKVOnly {
		out[FusedKVOnlyKey] = true
	} else {
		delete(out, FusedKVOnlyKey)
	}
	if _, ok := out["auto_mapping"]; !ok {
		out["auto_mapping"] = nil
	}
	if _, ok := out["peft_version"]; !ok {
		out["peft_version"] = PEFTVersion
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil { // map keys are encoded sorted
		return nil, fmt.Errorf("encode adapter config: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Write writes dir/adapter_config.json atomically.
func (c *Config) Write(dir string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), data)
}

// isAllLinear reports whether m is PEFT's "all-linear" shorthand
// (compared case-insensitively, as PEFT does).
func isAllLinear(m Modules) bool {
	return m.kind == modulesPattern && strings.ToLower(m.pattern) == "all-linear"
}

// sortedKeys returns the keys of a map in order (for messages).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
