package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3"
)

// weightedFlags are the flags of `ia3 weighted`.
type weightedFlags struct {
	model, weights, name, out, device string
	adapters                          []string
}

// newWeightedCmd builds `ia3 weighted`.
func newWeightedCmd(a *app) *cobra.Command {
	var f weightedFlags
	cmd := &cobra.Command{
		Use:   "weighted",
		Short: "Combine adapters into a new weighted adapter",
		Long: `Combine adapters into a new one whose vectors are the weighted sum of theirs
(PEFT's add_weighted_adapter), and save it as a PEFT adapter directory
(adapter_config.json + adapter_model.safetensors) that PEFT loads.

--adapter DIR=NAME loads each source adapter under the name --weights uses
(NAME defaults to the directory's base name).`,
		Example: `  ia3 weighted --model ./gpt2 --adapter ad/a=a --adapter ad/b=b --weights a:0.6,b:0.4 --name w --out ad/w`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model", "adapter", "weights", "out"); err != nil {
				return err
			}
			return runWeighted(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "base model directory or Hub id org/name[@revision]")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "source adapter directory or Hub id, DIR=NAME (repeatable)")
	fl.StringVar(&f.weights, "weights", "", "weights per adapter name: A:0.6,B:0.4")
	fl.StringVar(&f.name, "name", "weighted", "name of the new adapter, as add_weighted_adapter's adapter_name")
	fl.StringVar(&f.out, "out", "", "directory to write the new adapter to")
	addDeviceFlag(cmd, &f.device)
	return cmd
}

// runWeighted adds the weighted adapter and saves it alone to --out.
func runWeighted(cmd *cobra.Command, a *app, f *weightedFlags) error {
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	w, err := parseWeights("--weights", f.weights)
	if err != nil {
		return err
	}
	if f.name == "" || f.name == ia3.DefaultAdapter {
		return usagef("--name %q: choose a name other than %q", f.name, ia3.DefaultAdapter)
	}
	if err := checkNewAdapterName("--name", f.name, specs); err != nil {
		return err
	}
	if err := a.resolveModelAndAdapters(cmd.Context(), &f.model, specs); err != nil {
		return err
	}
	l, err := loadWithAdapters(cmd.Context(), f.device, f.model, specs)
	if err != nil {
		return err
	}
	defer l.close()
	if err := l.peft.AddWeightedAdapter(w.Adapters, w.Weights, f.name); err != nil {
		return fmt.Errorf("weighted adapter %s: %w", f.name, err)
	}
	// PEFT saves a non-default adapter in a subdirectory named after it:
	// save beside the target and move that subdirectory into place.
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(f.out)), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", f.out, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(f.out)), ".ia3-weighted-*")
	if err != nil {
		return fmt.Errorf("create a temporary directory beside %s: %w", f.out, err)
	}
	defer os.RemoveAll(tmp)
	if err := l.peft.SavePretrained(tmp, f.name); err != nil {
		return fmt.Errorf("save adapter %s: %w", f.name, err)
	}
	if err := moveInto(ia3.AdapterDir(tmp, f.name), f.out); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "saved adapter %s = %s to %s\n", f.name, f.weights, f.out)
	return nil
}

// moveInto moves the files of directory src into dst (created if needed),
// replacing files of the same name.
func moveInto(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return fmt.Errorf("move %s into %s: %w", e.Name(), dst, err)
		}
	}
	return nil
}
