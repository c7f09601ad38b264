package ia3

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// baseInfo is what matching needs to know about the base model.
type baseInfo struct {
	modules     []nn.NamedModule
	outputLayer string // excluded by "all-linear"
	modelType   string // config.json model_type, for default targets
	taskType    string // CAUSAL_LM, SEQ_2_SEQ_LM, SEQ_CLS
	// paramShape gives a parameter's shape by checkpoint name, for counts
	// on a structure-only model (nil: unknown).
	paramShape func(name string) ([]int, bool)
	// fusedQKV gives the layout of a fused query/key/value projection by
	// module name (nil: the model has none), for Config.FusedKVOnly.
	fusedQKV func(module string) (model.FusedQKV, bool)
}

// resolveConfig returns a copy of cfg completed as PEFT completes it when
// an adapter is attached: the classification head added to
// modules_to_save when cfg.TaskType is SEQ_CLS (as PEFT, the task type is
// the config's, not the model's), the model type's default target and
// feed-forward modules where unset, and "all-linear" expanded to the
// list of Linear/Conv1D modules except the output layer.
func resolveConfig(cfg *Config, info baseInfo) (*Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := cfg.Clone()
	if r.TaskType == TaskSeqCls {
		// PEFT appends the head names; duplicates are not written twice here.
		if r.ModulesToSave == nil {
			r.ModulesToSave = []string{}
		}
		for _, h := range seqClsHeads {
			if !containsString(r.ModulesToSave, h) {
				r.ModulesToSave = append(r.ModulesToSave, h)
			}
		}
	}
	if !r.TargetModules.IsSet() {
		t, ok := DefaultTargetModules(info.modelType)
		if !ok {
			return nil, fmt.Errorf("Please specify `target_modules` in `peft_config`: model type %q has no default IA3 target modules (known: %s)",
				info.modelType, strings.Join(DefaultModelTypes(), ", "))
		}
		r.TargetModules = Names(t...)
	}
	if !r.FeedforwardModules.IsSet() {
		f, ok := DefaultFeedforwardModules(info.modelType)
		if !ok {
			return nil, fmt.Errorf("Please specify `feedforward_modules` in `peft_config`: model type %q has no default IA3 feed-forward modules", info.modelType)
		}
		r.FeedforwardModules = Names(f...)
	}
	if isAllLinear(r.TargetModules) {
		var names []string
		for _, nm := range info.modules {
			if _, ok := nm.Module.(*nn.Linear); ok && nm.Name != info.outputLayer && nm.Name != "" {
				names = append(names, nm.Name)
			}
		}
		r.TargetModules = Names(names...)
	}
	return r, nil
}

// matcher decides, as PEFT's check_target_module_exists and
// IA3Model._check_target_module_feedforward do, which modules a resolved
// config adapts and which of those are feed-forward.
type matcher struct {
	cfg       *Config
	target    *regexp.Regexp // nil for a list
	exclude   *regexp.Regexp // nil for a list or unset
	ff        *regexp.Regexp // nil for a list
	toSave    []*regexp.Regexp
	toSaveSrc []string
}

func newMatcher(cfg *Config) (*matcher, error) {
	m := &matcher{cfg: cfg}
	var err error
	if cfg.TargetModules.IsPattern() {
		if m.target, err = compilePattern(cfg.TargetModules.pattern); err != nil {
			return nil, fmt.Errorf("target_modules: %w", err)
		}
	}
	if cfg.ExcludeModules.IsPattern() {
		if m.exclude, err = compilePattern(cfg.ExcludeModules.pattern); err != nil {
			return nil, fmt.Errorf("exclude_modules: %w", err)
		}
	}
	if cfg.FeedforwardModules.IsPattern() {
		if m.ff, err = compilePattern(cfg.FeedforwardModules.pattern); err != nil {
			return nil, fmt.Errorf("feedforward_modules: %w", err)
		}
	}
	for _, s := range cfg.ModulesToSave {
		// PEFT: re.match(rf"(^|.*\.){m}($|\..*)", key), the name spliced in
		// as regex source.
		src, err := translatePattern(s)
		if err != nil {
			return nil, fmt.Errorf("modules_to_save: %w", err)
		}
		re, err := regexp.Compile(`^(?:^|.*\.)` + src + `(?:$|\..*)`)
		if err != nil {
			return nil, fmt.Errorf("modules_to_save entry %q is not a valid pattern: %w", s, err)
		}
		m.toSave = append(m.toSave, re)
		m.toSaveSrc = append(m.toSaveSrc, s)
	}
	return m, nil
}

// matchResult says what check_target_module_exists found for one key.
type matchResult uint8

const (
	unmatched matchResult = iota
	excluded
	matched
)

// check classifies one module name.
func (m *matcher) check(key string) matchResult {
	if ex := m.cfg.ExcludeModules; ex.IsSet() {
		if m.exclude != nil {
			if m.exclude.MatchString(key) {
				return excluded
			}
		} else if suffixMatch(key, ex.names) {
			return excluded
		}
	}
	for _, re := range m.toSave {
		if re.MatchString(key) {
			return excluded
		}
	}
	if m.target != nil {
		if m.target.MatchString(key) {
			return matched
		}
		return unmatched
	}
	if suffixMatch(key, m.cfg.TargetModules.names) {
		return matched
	}
	return unmatched
}

// suffixMatch is PEFT's list rule: key equals a name or ends with "."+name.
func suffixMatch(key string, names []string) bool {
	for _, n := range names {
		if key == n || strings.HasSuffix(key, "."+n) {
			return true
		}
	}
	return false
}

// feedforward is PEFT's rule: a regex must match the whole name; a list
// entry is a plain string suffix (no "." boundary).
func (m *matcher) feedforward(key string) bool {
	if m.ff != nil {
		return m.ff.MatchString(key)
	}
	for _, f := range m.cfg.FeedforwardModules.names {
		if strings.HasSuffix(key, f) {
			return true
		}
	}
	return false
}

// target is one module an adapter will scale.
type target struct {
	name        string
	lin         *nn.Linear
	feedforward bool
}

// planTargets lists the modules cfg adapts, in module order, or PEFT's
// error when a matched module is not Linear/Conv1D or nothing matched.
func planTargets(cfg *Config, modules []nn.NamedModule) ([]target, error) {
	m, err := newMatcher(cfg)
	if err != nil {
		return nil, err
	}
	var out []target
	nExcluded, nUnmatched := 0, 0
	for _, nm := range modules {
		if nm.Name == "" {
			continue
		}
		switch m.check(nm.Name) {
		case excluded:
			nExcluded++
			continue
		case unmatched:
			nUnmatched++
			continue
		}
		lin, ok := nm.Module.(*nn.Linear)
		if !ok {
			return nil, fmt.Errorf("Target module %s (%s) is not supported. Currently, only `torch.nn.Linear` and `Conv1D` are supported",
				nm.Name, nm.Module.Type())
		}
		if (lin.Type() == "Conv1D") != cfg.FanInFanOut {
			slog.Debug("ia3: fan_in_fan_out follows the layer type", "module", nm.Name, "type", lin.Type())
		}
		out = append(out, target{name: nm.Name, lin: lin, feedforward: m.feedforward(nm.Name)})
	}
	if len(out) == 0 {
		switch {
		case nExcluded > 0 && nUnmatched == 0:
			return nil, errors.New("All modules were excluded. This is likely unintended. Check your `target_modules`, `exclude_modules` and `modules_to_save` configuration")
		case nExcluded == 0:
			return nil, fmt.Errorf("Target modules %s not found in the base model. Please check the target modules and try again", cfg.TargetModules)
		default:
			return nil, fmt.Errorf("No modules were targeted for adaptation: target_modules %s matched nothing that exclude_modules %s and modules_to_save %q leave",
				cfg.TargetModules, cfg.ExcludeModules, cfg.ModulesToSave)
		}
	}
	return out, nil
}

// saveTargets lists the modules_to_save modules as PEFT's _set_trainable
// finds them: every module whose name ends with an entry (a plain string
// suffix), outermost only.
func saveTargets(names []string, modules []nn.NamedModule) []nn.NamedModule {
	var out []nn.NamedModule
	for _, nm := range modules {
		hit := false
		for _, n := range names {
			if strings.HasSuffix(nm.Name, n) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		inside := false
		for _, o := range out {
			if o.Name == "" || strings.HasPrefix(nm.Name, o.Name+".") {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, nm)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
