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
// Each case is checked for whatever it holds, one report row per check:
//   - "layers_default", "matching[i]": meta.json's layer table and each
//     matching.json config (layers, feed-forward flags, vector shapes,
//     trainable names, the keys a real save writes, or PEFT's error);
//   - "load adapter a|b|w", "w vectors = PEFT's adapters/w": the adapters
//     load, and our add_weighted_adapter (weights from meta.json) equals
//     PEFT's w;
//   - every logits_* key of expected.safetensors (base, a, b, both active,
//     disabled, weighted, merged a, merged a+b, unloaded, and their _f64
//     twins), plus batches mixing adapters per sample, PEFT's merged_a/
//     checkpoint, and our own merge saved and reloaded;
//   - "refuses <op>": the operations PEFT refused (meta.json errors);
//   - "train ...": the trajectory of meta.json's train spec (trainable
//     names, step-0 gradients, losses, final parameters, saved adapter).
//
// A case that cannot run (an unsupported architecture, an unreadable file,
// a key or refusal no rule checks) is a failing row, never a skip.
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
	s := &fixtureSuite{rep: rep, log: log}
	for _, fc := range rep.Cases {
		c, err := readFixtureCase(fc)
		s.cases = append(s.cases, c)
		s.readErrs = append(s.readErrs, err)
	}
	if s.scratch, err = os.MkdirTemp("", "ia3-fixtures-*"); err != nil {
		return rep, fmt.Errorf("conformance: scratch directory: %w", err)
	}
	defer os.RemoveAll(s.scratch)

	err = onEachDevice(ctx, devices, log, rep.addDevice, func(b backend.Backend) error {
		return s.runDevice(ctx, b)
	})
	return rep, err
}

// fixtureSuite is one RunFixtures call: the cases read once, run on each
// device in turn.
type fixtureSuite struct {
	rep      *FixtureReport
	log      *slog.Logger
	cases    []*fixtureCase
	readErrs []error // why cases[i] could not be read, reported per device
	scratch  string  // removed when the run ends
}

// runDevice runs every case on b, appending the rows to the report. It
// stops early only when ctx is cancelled or scratch space runs out.
func (s *fixtureSuite) runDevice(ctx context.Context, b backend.Backend) error {
	info := b.Info()
	emit := func(r FixtureResult) {
		s.rep.Results = append(s.rep.Results, r)
		if !r.Pass {
			s.log.Warn("fixture check failed", "case", r.Case, "check", r.Check, "device", r.Device,
				"max_err", r.MaxErr, "tol", r.Tol, "err", r.Err)
		}
	}
	for i, c := range s.cases {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := s.rep.Cases[i].Name
		s.log.Info("running fixture case", "case", name, "device", info.Spec, "name", info.Name)
		r := &caseRun{ctx: ctx, c: c, b: b, info: info, emit: emit, name: name}
		if s.readErrs[i] != nil {
			r.row("read fixture", 0, 0, s.readErrs[i])
			continue
		}
		dir, err := os.MkdirTemp(s.scratch, "case-*")
		if err != nil {
			return fmt.Errorf("conformance: scratch directory: %w", err)
		}
		r.scratch = dir
		start := time.Now()
		r.run()
		s.log.Info("fixture case done", "case", name, "device", info.Spec, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (r *FixtureReport) addDevice(info backend.DeviceInfo, status string) {
	r.Devices = append(r.Devices, DeviceStatus{Info: info, Status: status})
}
