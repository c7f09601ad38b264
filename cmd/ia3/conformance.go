package main

import (
	"errors"
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
	jsonPath, reportPath     string
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
testdata/fixtures/README.md): logits of every adapter operation and training
steps, compared with PEFT's numbers. Give both to run both.

--device chooses the devices: all (default: every device that can compute),
or one spec (cpu, gpu, gpu:N). --json FILE also writes the report as JSON.
--report FILE.md writes a shareable Markdown section per device (adapter,
API, driver, OS/arch, pass/fail counts, the worst error of each op family,
the timing of the main kernels) and the whole report as JSON beside it
(FILE.json); see docs/conformance-results.md. The exit code is 1 when any
row fails.`,
		Example: `  ia3 conformance --ops
  ia3 conformance --ops --device gpu:0 --filter 'MatMul|Linear' --json ops.json
  ia3 conformance --fixtures testdata/fixtures --device all --json fixtures.json
  ia3 conformance --ops --fixtures testdata/fixtures --device gpu:0 --report my-gpu.md`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !f.ops && f.fixtures == "" {
				return usagef("choose one of --ops or --fixtures DIR (or both)")
			}
			if _, err := regexp.Compile(f.filter); err != nil {
				return usagef("--filter %q: %v", f.filter, err)
			}
			if f.reportPath != "" && reportJSONPath(f.reportPath) == f.jsonPath {
				return usagef("--json %s is the file --report writes beside %s", f.jsonPath, f.reportPath)
			}
			var devices []string
			if d := strings.ToLower(strings.TrimSpace(f.device)); d != "all" {
				devices = []string{d}
			}
			return runConformance(cmd, a, &f, devices)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.ops, "ops", false, "run the operation suite")
	fl.StringVar(&f.fixtures, "fixtures", "", "run the model-level suite on the PEFT fixture cases under DIR")
	fl.StringVar(&f.device, "device", "all", "all, or one device: cpu, gpu, gpu:N (see 'ia3 devices')")
	fl.StringVar(&f.filter, "filter", "", "regular expression selecting operations (--ops) or fixture cases (--fixtures) by name")
	fl.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to this file")
	fl.StringVar(&f.reportPath, "report", "", "write a shareable Markdown summary to this file (FILE.md) and the JSON report beside it (FILE.json); also times the main kernels")
	return cmd
}

// reportJSONPath is the JSON file written beside a Markdown report.
func reportJSONPath(md string) string {
	return strings.TrimSuffix(md, ".md") + ".json"
}

// runConformance runs the suites asked for, prints their tables and writes
// the files asked for; a failing row or a suite that could not run is an
// error.
func runConformance(cmd *cobra.Command, a *app, f *conformanceFlags, devices []string) error {
	var (
		ops      *conformance.Report
		fixtures *conformance.FixtureReport
		errs     []error
	)
	if f.ops {
		var err error
		ops, err = conformance.RunOps(cmd.Context(), devices,
			conformance.OpOptions{Filter: f.filter, Log: slog.Default(), Timings: f.reportPath != ""})
		if err != nil {
			errs = append(errs, fmt.Errorf("operation suite: %w", err))
		}
		if ops != nil {
			if err := ops.WriteTable(a.stdout); err != nil {
				return err
			}
		}
	}
	if f.fixtures != "" {
		if err := mustExist(f.fixtures, "fixtures directory"); err != nil {
			return err
		}
		var err error
		fixtures, err = conformance.RunFixtures(cmd.Context(), f.fixtures, devices,
			conformance.FixtureOptions{Filter: f.filter, Log: slog.Default()})
		if err != nil {
			errs = append(errs, fmt.Errorf("fixture suite on %s: %w", f.fixtures, err))
		}
		if fixtures != nil {
			if err := fixtures.WriteTable(a.stdout); err != nil {
				return err
			}
		}
	}
	if err := writeConformanceFiles(f, ops, fixtures); err != nil {
		return err
	}
	if ops != nil {
		if n := ops.Failed(); n > 0 {
			errs = append(errs, fmt.Errorf("operation suite: %d failures", n))
		}
	}
	if fixtures != nil {
		if n := fixtures.Failed(); n > 0 {
			errs = append(errs, fmt.Errorf("fixture suite on %s: %d failures", f.fixtures, n))
		}
	}
	return errors.Join(errs...)
}

// writeConformanceFiles writes --json (the one report run, or both
// combined) and --report with its JSON twin.
func writeConformanceFiles(f *conformanceFlags, ops *conformance.Report, fixtures *conformance.FixtureReport) error {
	if ops == nil && fixtures == nil {
		return nil
	}
	combined := func(w io.Writer) error { return conformance.WriteReportJSON(w, ops, fixtures) }
	single := combined
	switch {
	case fixtures == nil:
		single = ops.WriteJSON
	case ops == nil:
		single = fixtures.WriteJSON
	}
	if err := writeReportFile(f.jsonPath, "JSON report", single); err != nil {
		return err
	}
	if f.reportPath == "" {
		return nil
	}
	if err := writeReportFile(f.reportPath, "Markdown report", func(w io.Writer) error {
		return conformance.WriteMarkdown(w, ops, fixtures)
	}); err != nil {
		return err
	}
	return writeReportFile(reportJSONPath(f.reportPath), "JSON report", combined)
}

// writeReportFile writes a report to path through write, doing nothing
// when path is empty.
func writeReportFile(path, what string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	return nil
}
