package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/ia3"
)

// adapterFlags are the flags that describe an IA3Config: a file, or the
// module lists on the command line.
type adapterFlags struct {
	config      string
	targets     string
	feedforward string
	toSave      string
	fusedKVOnly bool
}

// add registers the flags on cmd.
func (f *adapterFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "adapter_config.json (or an adapter's Hub id) to take the IA3 configuration from (instead of the module flags)")
	fl.StringVar(&f.targets, "target-modules", "", `modules to adapt: comma-separated names matched as name suffixes, "all-linear", or "re:REGEX" (full match); default: the architecture's PEFT default`)
	fl.StringVar(&f.feedforward, "feedforward-modules", "", `which targets are feed-forward (their input is scaled): names or "re:REGEX"; default: PEFT's default for the architecture`)
	fl.StringVar(&f.toSave, "modules-to-save", "", "comma-separated modules trained and saved whole (e.g. a classification head)")
	fl.BoolVar(&f.fusedKVOnly, "fused-kv-only", false, "ia3 extension PEFT cannot load: a fused q/k/v projection (GPT-2's c_attn) scales only its key and value outputs, not the queries (adapter_config.json key "+ia3.FusedKVOnlyKey+")")
}

// build returns the IA3Config the flags describe, with task_type taken
// from the model (as PEFT needs it to decide on classification heads).
func (f *adapterFlags) build(cmd *cobra.Command, taskType string) (*ia3.Config, error) {
	fl := cmd.Flags()
	if f.config != "" {
		for _, n := range []string{"target-modules", "feedforward-modules", "modules-to-save"} {
			if fl.Changed(n) {
				return nil, usagef("--config and --%s exclude each other: put the modules in the config file", n)
			}
		}
		path := f.config
		if hub.IsRepoID(path) { // an adapter on the Hub: its adapter_config.json
			dir, err := hub.Snapshot(cmd.Context(), path, hub.Options{Kind: hub.AdapterConfig})
			if err != nil {
				return nil, fmt.Errorf("--config %s: no such local file, and from the Hub: %w", f.config, err)
			}
			path = filepath.Join(dir, ia3.ConfigFile)
		}
		if err := mustBeFile(path, "adapter config"); err != nil {
			return nil, err
		}
		c, err := ia3.ReadConfig(path)
		if err != nil {
			return nil, err
		}
		if c.TaskType == "" {
			c.TaskType = taskType
		}
		c.FusedKVOnly = c.FusedKVOnly || f.fusedKVOnly
		return c, nil
	}
	c := ia3.NewConfig()
	c.TaskType = taskType
	if fl.Changed("target-modules") {
		c.TargetModules = modulesFlag(f.targets)
	}
	if fl.Changed("feedforward-modules") {
		c.FeedforwardModules = modulesFlag(f.feedforward)
	}
	c.ModulesToSave = splitList(f.toSave)
	c.FusedKVOnly = f.fusedKVOnly
	if err := c.Validate(); err != nil {
		return nil, usagef("adapter flags: %v", err)
	}
	return c, nil
}

// modulesFlag turns a module flag value into PEFT's list-or-regex form.
func modulesFlag(v string) ia3.Modules {
	v = strings.TrimSpace(v)
	if re, ok := strings.CutPrefix(v, "re:"); ok {
		return ia3.Pattern(re)
	}
	if strings.EqualFold(v, "all-linear") {
		return ia3.Pattern(v)
	}
	return ia3.Names(splitList(v)...)
}
