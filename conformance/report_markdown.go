package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ia3/ia3/backend"
)

// WriteMarkdown writes the shareable summary of a run: one Markdown section
// per device that either suite ran on (adapter, API, driver, OS/arch, pass
// and fail counts, the worst error of each op family, the fixture cases and
// the kernel timings), then a line for each device that did not run and
// why. Either report may be nil. The sections are written to be pasted into
// docs/conformance-results.md.
func WriteMarkdown(w io.Writer, ops *Report, fixtures *FixtureReport) error {
	var buf bytes.Buffer
	ran, skipped := mdDevices(ops, fixtures)
	for _, d := range ran {
		writeMarkdownSection(&buf, d, ops, fixtures)
	}
	for _, d := range skipped {
		fmt.Fprintf(&buf, "Not run: `%s` (%s, %s): %s\n\n", d.Info.Spec, mdCell(d.Info.Name), d.Info.API, mdCell(d.Status))
	}
	if len(ran) == 0 && len(skipped) == 0 {
		buf.WriteString("No device was considered.\n")
	}
	if _, err := w.Write(bytes.TrimRight(buf.Bytes(), "\n")); err != nil {
		return fmt.Errorf("conformance: writing the Markdown report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("conformance: writing the Markdown report: %w", err)
	}
	return nil
}

// WriteReportJSON writes both reports as one JSON object, {"ops": ...,
// "fixtures": ...}, each as its WriteJSON writes it (null when nil): the
// file that goes beside WriteMarkdown's.
func WriteReportJSON(w io.Writer, ops *Report, fixtures *FixtureReport) error {
	var out struct {
		Ops      json.RawMessage `json:"ops"`
		Fixtures json.RawMessage `json:"fixtures"`
	}
	out.Ops, out.Fixtures = json.RawMessage("null"), json.RawMessage("null")
	if ops != nil {
		var b bytes.Buffer
		if err := ops.WriteJSON(&b); err != nil {
			return err
		}
		out.Ops = b.Bytes()
	}
	if fixtures != nil {
		var b bytes.Buffer
		if err := fixtures.WriteJSON(&b); err != nil {
			return err
		}
		out.Fixtures = b.Bytes()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("conformance: writing the JSON report: %w", err)
	}
	return nil
}

// mdDevices merges the devices of both reports by spec, in order: those
// that ran in either suite, and the rest with the first status given.
func mdDevices(ops *Report, fixtures *FixtureReport) (ran, skipped []DeviceStatus) {
	var all []DeviceStatus
	if ops != nil {
		all = append(all, ops.Devices...)
	}
	if fixtures != nil {
		all = append(all, fixtures.Devices...)
	}
	seen := map[string]bool{}
	for _, d := range all {
		if d.Status == statusRan && !seen[d.Info.Spec] {
			seen[d.Info.Spec] = true
			ran = append(ran, d)
		}
	}
	for _, d := range all {
		if !seen[d.Info.Spec] {
			seen[d.Info.Spec] = true
			skipped = append(skipped, d)
		}
	}
	return ran, skipped
}

// writeMarkdownSection writes one device's section.
func writeMarkdownSection(buf *bytes.Buffer, d DeviceStatus, ops *Report, fixtures *FixtureReport) {
	info := d.Info
	osArch, goVersion, date := "", "", ""
	if ops != nil {
		osArch, goVersion, date = ops.OS+"/"+ops.Arch, ops.GoVersion, ops.Date.Format("2006-01-02")
	} else if fixtures != nil {
		osArch, goVersion, date = fixtures.OS+"/"+fixtures.Arch, fixtures.GoVersion, fixtures.Date.Format("2006-01-02")
	}
	fmt.Fprintf(buf, "### %s, %s (%s)\n\n", mdCell(info.Name), info.API, osArch)
	buf.WriteString("| | |\n| --- | --- |\n")
	fmt.Fprintf(buf, "| adapter | %s |\n", mdCell(adapterText(info)))
	fmt.Fprintf(buf, "| API, driver | %s, %s |\n", info.API, mdCell(orNone(info.Driver)))
	fmt.Fprintf(buf, "| OS/arch | %s, %s |\n", osArch, goVersion)
	fmt.Fprintf(buf, "| date | %s |\n", date)
	if ops != nil {
		pass, fail := ops.counts(info.Spec)
		fmt.Fprintf(buf, "| operation suite | %d passed, %d failed |\n", pass, fail)
	}
	if fixtures != nil {
		pass, fail := fixtures.counts(info.Spec)
		fmt.Fprintf(buf, "| fixture suite | %d passed, %d failed (%d cases under %s) |\n",
			pass, fail, len(fixtures.Cases), mdCell(fixtures.Root))
	}
	buf.WriteString("\n")
	if ops != nil {
		writeFamilyTable(buf, info.Spec, ops.Results)
		writeTimingTable(buf, info.Spec, ops.Timings)
	}
	if fixtures != nil {
		writeCaseTable(buf, info.Spec, fixtures.Results)
	}
}

// adapterText names a device with its vendor, type and spec.
func adapterText(info backend.DeviceInfo) string {
	var extra []string
	if info.Vendor != "" {
		extra = append(extra, info.Vendor)
	}
	if info.Type != "" {
		extra = append(extra, info.Type)
	}
	extra = append(extra, "`"+info.Spec+"`")
	return info.Name + " (" + strings.Join(extra, ", ") + ")"
}

// worstRow tracks the row of a group closest to its tolerance.
type worstRow struct {
	rows, failed int
	err, tol     float64
	at           string
	ratio        float64
	seen         bool
}

// add counts a row and keeps it when its error is the largest fraction of
// its tolerance so far (a failing row always wins over passing ones).
func (g *worstRow) add(pass bool, err, tol float64, at string) {
	g.rows++
	if !pass {
		g.failed++
	}
	ratio := err / tol
	if tol <= 0 {
		ratio = err
	}
	if math.IsNaN(ratio) {
		ratio = math.Inf(1)
	}
	if !pass {
		ratio += 1e300 // failures first, the largest of them
	}
	if !g.seen || ratio > g.ratio {
		g.err, g.tol, g.at, g.ratio, g.seen = err, tol, at, ratio, true
	}
}

// groupedRow is one row of a report reduced for a group table: its group,
// whether it passed, its error and tolerance, and where it is.
type groupedRow struct {
	group    string
	pass     bool
	err, tol float64
	at       string
}

// writeGroupTable writes one row per group (in order of first appearance)
// with its counts and its worst row; header is the table's first line, and
// a group whose worst row has no place gets noErr as its error cells.
func writeGroupTable(buf *bytes.Buffer, header, noErr string, rows []groupedRow) {
	groups := map[string]*worstRow{}
	var order []string
	for _, r := range rows {
		g := groups[r.group]
		if g == nil {
			g = &worstRow{}
			groups[r.group] = g
			order = append(order, r.group)
		}
		g.add(r.pass, r.err, r.tol, r.at)
	}
	if len(order) == 0 {
		return
	}
	buf.WriteString(header + "\n| --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, name := range order {
		g := groups[name]
		if g.at == "" {
			fmt.Fprintf(buf, "| %s | %d | %d | %s |\n", mdCell(name), g.rows, g.failed, noErr)
			continue
		}
		fmt.Fprintf(buf, "| %s | %d | %d | %s | %s | %s |\n", mdCell(name), g.rows, g.failed, fmtErr(g.err), fmtErr(g.tol), mdCell(g.at))
	}
	buf.WriteString("\n")
}

// writeFamilyTable writes one row per op family with its counts and its
// worst row (largest error relative to tolerance).
func writeFamilyTable(buf *bytes.Buffer, spec string, results []OpResult) {
	familyOf := map[string]string{}
	for _, f := range caseFamilies() {
		for _, c := range f.cases() {
			familyOf[c.op+"\x00"+c.shape] = f.name
		}
	}
	var rows []groupedRow
	for _, r := range results {
		if r.Device != spec {
			continue
		}
		fam, ok := familyOf[r.Op+"\x00"+r.Shape]
		if !ok {
			fam = "other"
		}
		if fam == "malformed" {
			// A malformed call has no error to measure: it errs or fails.
			rows = append(rows, groupedRow{group: fam, pass: r.Pass})
			continue
		}
		rows = append(rows, groupedRow{fam, r.Pass, r.MaxRel, r.Tol, r.Op + " " + r.Shape})
	}
	writeGroupTable(buf, "| op family | rows | failed | worst rel. error | its tolerance | at |", "– | – | errors returned", rows)
}

// writeTimingTable writes the kernel timings of one device.
func writeTimingTable(buf *bytes.Buffer, spec string, timings []KernelTiming) {
	header := false
	for _, t := range timings {
		if t.Device != spec {
			continue
		}
		if !header {
			fmt.Fprintf(buf, "| kernel | shape | median ms (of %d) | GFLOP/s |\n| --- | --- | ---: | ---: |\n", t.Runs)
			header = true
		}
		rate := "–"
		if t.GFLOPS > 0 {
			rate = fmt.Sprintf("%.1f", t.GFLOPS)
		}
		fmt.Fprintf(buf, "| %s | %s | %.3f | %s |\n", t.Kernel, mdCell(t.Shape), t.MedianMS, rate)
	}
	if header {
		buf.WriteString("\n")
	}
}

// writeCaseTable writes one row per fixture case with its counts and its
// worst check.
func writeCaseTable(buf *bytes.Buffer, spec string, results []FixtureResult) {
	var rows []groupedRow
	for _, r := range results {
		if r.Device == spec {
			rows = append(rows, groupedRow{r.Case, r.Pass, r.MaxErr, r.Tol, r.Check})
		}
	}
	writeGroupTable(buf, "| fixture case | checks | failed | worst abs. error | its tolerance | at |", "– | – | –", rows)
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	s = firstLine(s)
	return strings.ReplaceAll(s, "|", `\|`)
}

// orNone returns s, or "none reported".
func orNone(s string) string {
	if s == "" {
		return "none reported"
	}
	return s
}
