package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/conformance"
)

// conformanceFlags are the flags of `ia3 conformance`.
type conformanceFlags struct {
	ops                      bool
	fixtures, device, filter string
	jsonPath                 string
}

// newConformanceCmd builds `ia3 conformance`.
func newConformanceCmd(a *app) *cobra.Command {
	var f conformanceFlags
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check devices against float64 references and PEFT fixtures",
		Long: `Check that a device computes what it should.

--ops runs every backend operation on a set of shapes and compares it with a
float64 reference, one row per operation × shape × device, with the error and
the tolerance. --fixtures DIR runs the model-level checks on a directory of
PEFT fixture cases (base model, adapters, inputs, expected logits; see
shared/fixtures/README.md): logits of every adapter operation and training
steps, compared with PEFT's numbers.

--device chooses the devices: all (default: every device that can compute),
or one spec (cpu, gpu, gpu:N). --json FILE also writes the report as JSON.
The exit code is 1 when any row fails.`,
		Example: `  ia3 conformance --ops
  ia3 conformance --ops --device gpu:0 --filter 'MatMul|Linear' --json ops.json
  ia3 conformance --fixtures ../shared/fixtures --device all --json fixtures.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.ops == (f.fixtures != "") {
				return usagef("choose one of --ops or --fixtures DIR")
			}
			if _, err := regexp.Compile(f.filter); err != nil {
				return usagef("--filter %q: %v", f.filter, err)
			}
			var devices []string
			if d := strings.ToLower(strings.TrimSpace(f.device)); d != "all" {
				devices = []string{d}
			}
			if f.ops {
				return runOpsConformance(cmd, a, &f, devices)
			}
			return runFixturesConformance(cmd, a, &f, devices)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.ops, "ops", false, "run the operation suite")
	fl.StringVar(&f.fixtures, "fixtures", "", "run the model-level suite on the PEFT fixture cases under DIR")
	fl.StringVar(&f.device, "device", "all", "all, or one device: cpu, gpu, gpu:N (see 'ia3 devices')")
	fl.StringVar(&f.filter, "filter", "", "regular expression selecting operations (--ops) or fixture cases (--fixtures) by name")
	fl.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to this file")
	return cmd
}

// runOpsConformance runs the operation suite and reports it; any failing
// row is an error.
func runOpsConformance(cmd *cobra.Command, a *app, f *conformanceFlags, devices []string) error {
	rep, err := conformance.RunOps(cmd.Context(), devices, conformance.OpOptions{Filter: f.filter, Log: slog.Default()})
	if rep != nil {
		if werr := rep.WriteTable(a.stdout); werr != nil {
			return werr
		}
		if werr := writeJSONFile(f.jsonPath, rep.WriteJSON); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("operation suite: %w", err)
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("operation suite: %d failures", n)
	}
	return nil
}

// writeJSONFile writes a report to path through write, doing nothing when
// path is empty.
func writeJSONFile(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("write JSON report %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write JSON report %s: %w", path, err)
	}
	return nil
}

// runFixturesConformance runs the model-level suite on the fixture cases
// under --fixtures and reports it; any failing row is an error.
func runFixturesConformance(cmd *cobra.Command, a *app, f *conformanceFlags, devices []string) error {
	if err := mustExist(f.fixtures, "fixtures directory"); err != nil {
		return err
	}
	rep, err := conformance.RunFixtures(cmd.Context(), f.fixtures, devices,
		conformance.FixtureOptions{Filter: f.filter, Log: slog.Default()})
	if rep != nil {
		if werr := rep.WriteTable(a.stdout); werr != nil {
			return werr
		}
		if werr := writeJSONFile(f.jsonPath, rep.WriteJSON); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("fixture suite on %s: %w", f.fixtures, err)
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("fixture suite on %s: %d failures", f.fixtures, n)
	}
	return nil
}
