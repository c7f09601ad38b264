package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	// Every compiled-in device provider, so --device sees them all.
	_ "github.com/ia3/ia3/backend/all"
)

// deviceHelp documents --device on every compute command.
const deviceHelp = "where to compute: auto (best GPU, else the CPU), cpu, gpu (best GPU) or gpu:N (see 'ia3 devices')"

// addDeviceFlag adds --device to a compute command.
func addDeviceFlag(cmd *cobra.Command, spec *string) {
	cmd.Flags().StringVar(spec, "device", "auto", deviceHelp)
}

// checkDeviceSpec checks the spelling of a --device value, so that a typo
// is a usage error rather than a failure to open.
func checkDeviceSpec(spec string) error {
	s := strings.ToLower(strings.TrimSpace(spec))
	switch {
	case s == "auto", s == "cpu", s == "gpu":
		return nil
	case strings.HasPrefix(s, "gpu:"):
		if n, err := strconv.Atoi(s[len("gpu:"):]); err == nil && n >= 0 {
			return nil
		}
	}
	return usagef("--device %q: want auto, cpu, gpu or gpu:N", spec)
}

// openDevice opens the device named by spec.
func openDevice(ctx context.Context, spec string) (backend.Backend, error) {
	if err := checkDeviceSpec(spec); err != nil {
		return nil, err
	}
	b, err := backend.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("open device %s: %w", spec, err)
	}
	return b, nil
}
