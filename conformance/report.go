package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ia3/ia3/backend"
)

// statusRan marks a device the suite ran on.
const statusRan = "ran"

// OpResult is one row of the report: one operation on one shape on one
// device.
type OpResult struct {
	Device string // the device's spec: "cpu", "gpu:0", ...
	API    string // "Go", "Vulkan", "Metal", ...
	Driver string // the driver description the adapter reports
	Op     string // the backend method
	Shape  string // input shapes and variant
	// MaxAbs is the largest absolute difference from the float64
	// reference; MaxRel is MaxAbs relative to the reference's largest
	// magnitude.
	MaxAbs, MaxRel float64
	Tol            float64 // the largest MaxRel that passes
	Pass           bool
	// Err says why the row failed (or, for a malformed call, the error the
	// device correctly returned).
	Err string
}

// DeviceStatus is a device the suite considered, with what happened to it.
type DeviceStatus struct {
	Info backend.DeviceInfo
	// Status is "ran", "no compute: <reason>" or "open failed: <error>".
	Status string
}

// Report is the outcome of RunOps.
type Report struct {
	Date      time.Time
	GoVersion string
	OS, Arch  string
	Devices   []DeviceStatus
	Results   []OpResult
	// Timings holds the kernel timings when OpOptions.Timings asked for
	// them.
	Timings []KernelTiming
}

func newReport() *Report {
	return &Report{Date: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

func (r *Report) addDevice(info backend.DeviceInfo, status string) {
	r.Devices = append(r.Devices, DeviceStatus{Info: info, Status: status})
}

// Failed returns the number of failing rows plus the devices that could
// compute but failed to open. Devices without compute do not count.
func (r *Report) Failed() int {
	return countFailed(r.Results, func(res OpResult) bool { return res.Pass }, r.Devices)
}

// WriteTable writes the rows as aligned columns (device, API, driver, op,
// shape, max abs err, max rel err, tolerance, pass), then one summary line
// per device with its counts, including devices that did not run and why.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tAPI\tDRIVER\tOP\tSHAPE\tMAX ABS ERR\tMAX REL ERR\tTOL\tPASS")
	for _, res := range r.Results {
		pass := "ok"
		if !res.Pass {
			pass = "FAIL: " + firstLine(res.Err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.Device, res.API, res.Driver, res.Op, res.Shape,
			fmtErr(res.MaxAbs), fmtErr(res.MaxRel), fmtErr(res.Tol), pass)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("conformance: writing the table: %w", err)
	}
	return writeDeviceSummary(w, r.Devices, r.counts, "summary")
}

// writeDeviceSummary writes one line per device: its pass and fail counts
// (from counts) when the suite ran on it, else why it did not.
func writeDeviceSummary(w io.Writer, devices []DeviceStatus, counts func(spec string) (pass, fail int), what string) error {
	for _, d := range devices {
		line := fmt.Sprintf("%s (%s, %s): %s", d.Info.Spec, d.Info.Name, d.Info.API, d.Status)
		if d.Status == statusRan {
			pass, fail := counts(d.Info.Spec)
			line = fmt.Sprintf("%s (%s, %s): %d passed, %d failed", d.Info.Spec, d.Info.Name, d.Info.API, pass, fail)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return fmt.Errorf("conformance: writing the %s: %w", what, err)
		}
	}
	return nil
}

// counts returns the passing and failing rows of one device.
func (r *Report) counts(spec string) (pass, fail int) {
	return countRows(r.Results, spec, func(res OpResult) (string, bool) { return res.Device, res.Pass })
}

// countFailed counts the failing rows plus the devices that could compute
// but did not run (they failed to open).
func countFailed[R any](rows []R, pass func(R) bool, devices []DeviceStatus) int {
	n := 0
	for _, res := range rows {
		if !pass(res) {
			n++
		}
	}
	for _, d := range devices {
		if d.Status != statusRan && d.Info.Compute {
			n++
		}
	}
	return n
}

// countRows counts the passing and failing rows of one device.
func countRows[R any](rows []R, spec string, of func(R) (device string, pass bool)) (pass, fail int) {
	for _, res := range rows {
		device, ok := of(res)
		switch {
		case device != spec:
		case ok:
			pass++
		default:
			fail++
		}
	}
	return pass, fail
}

// WriteJSON writes the whole report, with the devices' full DeviceInfo,
// the date, Go version and OS/arch, as indented JSON. Non-finite errors are
// written as the strings "NaN", "+Inf" and "-Inf".
func (r *Report) WriteJSON(w io.Writer) error {
	type jsonResult struct {
		Device, API, Driver, Op, Shape string
		MaxAbs, MaxRel, Tol            jsonFloat
		Pass                           bool
		Err                            string `json:",omitempty"`
	}
	out := struct {
		Date      time.Time
		GoVersion string
		OS, Arch  string
		Devices   []DeviceStatus
		Failed    int
		Results   []jsonResult
		Timings   []KernelTiming `json:",omitempty"`
	}{r.Date, r.GoVersion, r.OS, r.Arch, r.Devices, r.Failed(), make([]jsonResult, len(r.Results)), r.Timings}
	for i, res := range r.Results {
		out.Results[i] = jsonResult{res.Device, res.API, res.Driver, res.Op, res.Shape,
			jsonFloat(res.MaxAbs), jsonFloat(res.MaxRel), jsonFloat(res.Tol), res.Pass, res.Err}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("conformance: writing the JSON report: %w", err)
	}
	return nil
}

// jsonFloat is a float64 that JSON can hold even when it is not finite.
type jsonFloat float64

// MarshalJSON writes finite values as numbers and others as strings.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return json.Marshal(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(v)
}

// fmtErr formats an error magnitude compactly.
func fmtErr(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'e', 2, 64)
}

// firstLine cuts s at its first newline (panic stacks stay in the JSON).
func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
