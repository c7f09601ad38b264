package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// FixtureResult is one row of the fixture report: one check of one case on
// one device.
type FixtureResult struct {
	Case   string // the case directory's name, e.g. "gpt2"
	Check  string // what was checked: "logits_a", "matching[2]", "train losses", ...
	Device string // the device's spec: "cpu", "gpu:0", ...
	API    string // "Go", "Vulkan", ...
	// MaxErr is the largest absolute difference from the reference (0 for
	// checks that compare names or errors rather than numbers); Tol is the
	// largest MaxErr that passes.
	MaxErr, Tol float64
	Pass        bool
	// Err says why the check failed; for a refusal PEFT also makes, it is
	// the error we returned.
	Err string
}

// FixtureCase is a case the run found, with where it lives.
type FixtureCase struct {
	Name string
	Dir  string
}

// FixtureReport is the outcome of RunFixtures.
type FixtureReport struct {
	Date      time.Time
	GoVersion string
	OS, Arch  string
	Root      string // the directory walked
	Cases     []FixtureCase
	Devices   []DeviceStatus
	Results   []FixtureResult
}

func newFixtureReport(root string) *FixtureReport {
	return &FixtureReport{Date: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Root: root}
}

// Failed returns the number of failing rows plus the devices that could
// compute but failed to open. A case that could not run at all has a
// failing row, so it counts too.
func (r *FixtureReport) Failed() int {
	return countFailed(r.Results, func(res FixtureResult) bool { return res.Pass }, r.Devices)
}

// WriteTable writes the rows as aligned columns (case, check, device, API,
// max abs err, tolerance, pass), then one summary line per device with its
// counts, including devices that did not run and why.
func (r *FixtureReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tCHECK\tDEVICE\tAPI\tMAX ABS ERR\tTOL\tPASS")
	for _, res := range r.Results {
		pass := "ok"
		if !res.Pass {
			pass = "FAIL: " + firstLine(res.Err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.Case, res.Check, res.Device, res.API,
			fmtErr(res.MaxErr), fmtErr(res.Tol), pass)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("conformance: writing the fixture table: %w", err)
	}
	return writeDeviceSummary(w, r.Devices, r.counts, "fixture summary")
}

// counts returns the passing and failing rows of one device.
func (r *FixtureReport) counts(spec string) (pass, fail int) {
	return countRows(r.Results, spec, func(res FixtureResult) (string, bool) { return res.Device, res.Pass })
}

// WriteJSON writes the whole report (cases with their directories, the
// devices' full DeviceInfo, date, Go version, OS/arch and the failure
// count) as indented JSON. Non-finite errors are written as the strings
// "NaN", "+Inf" and "-Inf".
func (r *FixtureReport) WriteJSON(w io.Writer) error {
	type jsonResult struct {
		Case, Check, Device, API string
		MaxErr, Tol              jsonFloat
		Pass                     bool
		Err                      string `json:",omitempty"`
	}
	out := struct {
		Date      time.Time
		GoVersion string
		OS, Arch  string
		Root      string
		Cases     []FixtureCase
		Devices   []DeviceStatus
		Failed    int
		Results   []jsonResult
	}{r.Date, r.GoVersion, r.OS, r.Arch, r.Root, r.Cases, r.Devices, r.Failed(), make([]jsonResult, len(r.Results))}
	for i, res := range r.Results {
		out.Results[i] = jsonResult{res.Case, res.Check, res.Device, res.API,
			jsonFloat(res.MaxErr), jsonFloat(res.Tol), res.Pass, res.Err}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("conformance: writing the fixture JSON report: %w", err)
	}
	return nil
}
