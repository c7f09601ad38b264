package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/ia3/ia3/backend"
)

// FixtureOptions selects and reports the fixture suite.
type FixtureOptions struct {
	// Filter is a regular expression matched against case names (their
	// path under the walked directory, e.g. "gpt2"); empty runs every case.
	Filter string
	// Log receives progress: one line per device and case, and one per
	// failing check. Nil discards it.
	Log *slog.Logger
}

// RunFixtures runs every PEFT fixture case found by walking dir (a
// directory holding base/config.json plus expected.safetensors or
// meta.json, laid out as the fixtures' README describes) on the devices
// named by their specs ("cpu", "gpu:0", ...), or on every device that can
// compute when devices is nil (the CPU included).
//
// Each case is checked for whatever it holds: matching.json and meta.json's
// layer table, the adapters a, b and w (our weighted adapter against
// PEFT's), every logits_* key of expected.safetensors, the merged
// checkpoint (PEFT's merged_a/ and our own merge saved and reloaded), the
// operations PEFT refused (meta.json errors, which must be refused too),
// and the five-step training trajectory. A case that cannot run (an
// unsupported architecture, an unreadable file, a key no rule checks) is a
// failing row, never a skip.
//
// The error is about running the suite (no case found, a bad filter, a
// device spec that does not open, a cancelled ctx); failing checks are in
// the report (FixtureReport.Failed), and a caller exits non-zero on either.
func RunFixtures(ctx context.Context, dir string, devices []string, opts FixtureOptions) (*FixtureReport, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	re, err := regexp.Compile(opts.Filter)
	if err != nil {
		return nil, fmt.Errorf("conformance: case filter %q: %w", opts.Filter, err)
	}
	found, err := findFixtureCases(dir)
	if err != nil {
		return nil, err
	}
	rep := newFixtureReport(dir)
	for _, fc := range found {
		if re.MatchString(fc.Name) {
			rep.Cases = append(rep.Cases, fc)
		}
	}
	if len(rep.Cases) == 0 {
		return rep, fmt.Errorf("conformance: no fixture case under %s matches %q (a case is a directory with base/config.json and expected.safetensors or meta.json)", dir, opts.Filter)
	}
	cases := make([]*fixtureCase, len(rep.Cases))
	readErrs := make([]error, len(rep.Cases))
	for i, fc := range rep.Cases {
		cases[i], readErrs[i] = readFixtureCase(fc)
	}
	tmp, err := os.MkdirTemp("", "ia3-fixtures-*")
	if err != nil {
		return rep, fmt.Errorf("conformance: scratch directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	listed := backend.Devices(ctx)
	if devices == nil {
		for _, d := range listed {
			if !d.Compute {
				rep.addDevice(d, "no compute: "+d.Reason)
				log.Info("device skipped", "device", d.Spec, "name", d.Name, "reason", d.Reason)
				continue
			}
			devices = append(devices, d.Spec)
		}
	}
	for _, spec := range devices {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		b, err := backend.Open(ctx, spec)
		if err != nil {
			log.Error("cannot open device", "device", spec, "err", err)
			if info, ok := findDevice(listed, spec); ok {
				rep.addDevice(info, "open failed: "+err.Error())
				continue
			}
			return rep, fmt.Errorf("conformance: open device %q: %w", spec, err)
		}
		info := b.Info()
		rep.addDevice(info, statusRan)
		emit := func(r FixtureResult) {
			rep.Results = append(rep.Results, r)
			if !r.Pass {
				log.Warn("fixture check failed", "case", r.Case, "check", r.Check, "device", r.Device,
					"max_err", r.MaxErr, "tol", r.Tol, "err", r.Err)
			}
		}
		for i, c := range cases {
			if err = ctx.Err(); err != nil {
				break
			}
			log.Info("running fixture case", "case", rep.Cases[i].Name, "device", info.Spec, "name", info.Name)
			r := &caseRun{ctx: ctx, c: c, b: b, info: info, emit: emit, name: rep.Cases[i].Name}
			if readErrs[i] != nil {
				r.row("read fixture", 0, 0, readErrs[i])
				continue
			}
			r.scratch, err = os.MkdirTemp(tmp, "case-*")
			if err != nil {
				err = fmt.Errorf("conformance: scratch directory: %w", err)
				break
			}
			start := time.Now()
			r.run()
			log.Info("fixture case done", "case", rep.Cases[i].Name, "device", info.Spec, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		if cerr := b.Close(); cerr != nil {
			log.Warn("closing device", "device", spec, "err", cerr)
		}
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *FixtureReport) addDevice(info backend.DeviceInfo, status string) {
	r.Devices = append(r.Devices, DeviceStatus{Info: info, Status: status})
}
