package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"

	"github.com/ia3/ia3/backend"
)

// OpOptions selects and reports the operation suite.
type OpOptions struct {
	// Filter is a regular expression matched against operation names (the
	// backend method, e.g. "MatMul|Linear"); empty runs every operation.
	Filter string
	// Log receives progress: one line per device and one per failing row.
	// Nil discards it.
	Log *slog.Logger
	// Timings also times the main kernels of a train step on each device
	// (Report.Timings), for the shareable report.
	Timings bool
}

// RunOps runs the operation suite on the devices named by their specs ("cpu",
// "gpu:0", ...), or on every device backend.Devices lists when devices is
// nil. Devices that cannot compute are listed in the report with their
// reason and are not a failure; a device that can but fails to open is
// listed as a failure. A spec that names no listed device and does not
// open is an error, as are a bad filter and a cancelled ctx. The error is
// about running the suite: failing rows are in the report (Report.Failed).
func RunOps(ctx context.Context, devices []string, opts OpOptions) (*Report, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cases, err := selectCases(opts.Filter)
	if err != nil {
		return nil, err
	}
	rep := newReport()
	err = onEachDevice(ctx, devices, log, rep.addDevice, func(b backend.Backend) error {
		info := b.Info()
		log.Info("running op suite", "device", info.Spec, "name", info.Name, "api", info.API, "cases", len(cases))
		err := runDevice(ctx, b, cases, func(r OpResult) {
			rep.Results = append(rep.Results, r)
			if !r.Pass {
				log.Warn("op failed", "device", r.Device, "op", r.Op, "shape", r.Shape,
					"max_rel", r.MaxRel, "tol", r.Tol, "err", r.Err)
			}
		})
		if err != nil || !opts.Timings {
			return err
		}
		ts, err := timeKernels(ctx, b)
		rep.Timings = append(rep.Timings, ts...)
		return err
	})
	return rep, err
}

// selectCases returns the suite's cases whose op matches filter.
func selectCases(filter string) ([]opCase, error) {
	re, err := regexp.Compile(filter)
	if err != nil {
		return nil, fmt.Errorf("conformance: op filter %q: %w", filter, err)
	}
	var out []opCase
	for _, c := range allCases() {
		if re.MatchString(c.op) {
			out = append(out, c)
		}
	}
	return out, nil
}

// runDevice runs cases on b in order, passing each result to emit; it stops
// early only when ctx is cancelled.
// Cases the device does not support (runsOn) are left out.
func runDevice(ctx context.Context, b backend.Backend, cases []opCase, emit func(OpResult)) error {
	info := b.Info()
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !c.runsOn(info) {
			continue
		}
		emit(runCase(b, c))
	}
	return nil
}

// runCase runs one case on b: upload, call, download, compare. A panic in the
// backend is caught and reported as the row's failure, so one broken
// operation does not hide the rest of the suite.
func runCase(b backend.Backend, c opCase) (res OpResult) {
	info := b.Info()
	res = OpResult{Device: info.Spec, API: info.API, Driver: info.Driver, Op: c.op, Shape: c.shape}
	tol, ok := toleranceFor(c.tolKey())
	if !ok && !c.malformed {
		res.Err = fmt.Sprintf("no tolerance stated for op %s", c.tolKey())
		return res
	}
	res.Tol = tol.at(c.k)
	defer func() {
		if p := recover(); p != nil {
			res.Pass = false
			res.Err = fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	s, err := c.build(newGen(c.op, c.shape))
	if err != nil {
		res.Err = "building the case: " + err.Error()
		return res
	}
	var owned []backend.Tensor
	defer func() {
		for _, t := range owned {
			if t != nil {
				b.Free(t)
			}
		}
	}()
	in := make([]backend.Tensor, len(s.inputs))
	for i, x := range s.inputs {
		t, err := upload(b, x)
		if err != nil {
			res.Err = fmt.Sprintf("upload input %d (%v %v): %v", i, x.dtype, x.shape, err)
			return res
		}
		owned = append(owned, t)
		in[i] = t
	}
	outs, err := s.call(b, in)
	owned = append(owned, outs...)
	if c.malformed {
		return malformedResult(b, res, err)
	}
	if err != nil {
		res.Err = "call: " + err.Error()
		return res
	}
	if len(outs) != len(s.want) {
		res.Err = fmt.Sprintf("%d outputs, want %d", len(outs), len(s.want))
		return res
	}
	worst := ""
	for i, t := range outs {
		name := fmt.Sprintf("output %d", i)
		if i < len(s.names) {
			name = s.names[i]
		}
		got, err := download(b, t)
		if err != nil {
			res.Err = fmt.Sprintf("download %s: %v", name, err)
			return res
		}
		abs, rel, err := compare(got, t.Shape(), s.want[i], c.floor)
		if err != nil {
			res.Err = fmt.Sprintf("%s: %v", name, err)
			return res
		}
		if i == 0 || rel > res.MaxRel {
			worst = name
		}
		res.MaxAbs = max(res.MaxAbs, abs)
		res.MaxRel = max(res.MaxRel, rel)
	}
	if err := b.Sync(); err != nil {
		res.Err = "sync: " + err.Error()
		return res
	}
	res.Pass = res.MaxRel <= res.Tol
	if !res.Pass {
		res.Err = fmt.Sprintf("%s: max rel err %.3g over tolerance %.3g", worst, res.MaxRel, res.Tol)
	}
	return res
}

// malformedResult judges a call that must fail: it passes when the call,
// or the Sync after it (for errors a GPU reports late), returned an error,
// and the device still works afterwards.
func malformedResult(b backend.Backend, res OpResult, callErr error) OpResult {
	syncErr := b.Sync()
	if errors.Is(callErr, errCannotTest) {
		res.Err = callErr.Error()
		return res
	}
	if callErr == nil && syncErr == nil {
		res.Err = "malformed call returned no error"
		return res
	}
	res.Pass = true
	res.Err = errors.Join(callErr, syncErr).Error()
	if err := b.Sync(); err != nil {
		res.Pass = false
		res.Err = "device unusable after the error: " + err.Error()
	}
	return res
}

// upload creates x on b.
func upload(b backend.Backend, x input) (backend.Tensor, error) {
	switch {
	case x.raw != nil:
		return b.FromBytes(x.dtype, x.raw, x.shape...)
	case x.dtype == backend.I32:
		return b.FromInt32(x.i32, x.shape...)
	default:
		return b.FromFloat32(x.f32, x.shape...)
	}
}

// download reads t back as float64, whatever its dtype.
func download(b backend.Backend, t backend.Tensor) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("nil tensor")
	}
	if t.DType() == backend.I32 {
		v, err := b.ToInt32(t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	}
	v, err := b.ToFloat32(t)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}
