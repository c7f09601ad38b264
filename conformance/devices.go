package conformance

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ia3/ia3/backend"
)

// onEachDevice opens each device in turn and calls run on it, for both
// suites. With devices nil it takes every device backend.Devices lists;
// those that cannot compute are recorded through addDevice with their
// reason and skipped, which is not a failure. A listed device that fails
// to open is recorded as such; a spec that names no listed device and does
// not open is an error, as is a cancelled ctx. Each device is closed after
// its run.
func onEachDevice(ctx context.Context, devices []string, log *slog.Logger,
	addDevice func(info backend.DeviceInfo, status string), run func(b backend.Backend) error) error {
	listed := backend.Devices(ctx)
	if devices == nil {
		for _, d := range listed {
			if !d.Compute {
				addDevice(d, "no compute: "+d.Reason)
				log.Info("device skipped", "device", d.Spec, "name", d.Name, "reason", d.Reason)
				continue
			}
			devices = append(devices, d.Spec)
		}
	}
	for _, spec := range devices {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := backend.Open(ctx, spec)
		if err != nil {
			log.Error("cannot open device", "device", spec, "err", err)
			info, ok := findDevice(listed, spec)
			if !ok {
				return fmt.Errorf("conformance: open device %q: %w", spec, err)
			}
			status := "open failed: " + err.Error()
			if !info.Compute {
				status = "no compute: " + info.Reason
			}
			addDevice(info, status)
			continue
		}
		addDevice(b.Info(), statusRan)
		err = run(b)
		if cerr := b.Close(); cerr != nil {
			log.Warn("closing device", "device", spec, "err", cerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// findDevice looks spec up in a device listing.
func findDevice(listed []backend.DeviceInfo, spec string) (backend.DeviceInfo, bool) {
	for _, d := range listed {
		if d.Spec == spec {
			return d, true
		}
	}
	return backend.DeviceInfo{}, false
}
