package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
)

// deviceJSON is one device as `ia3 devices --json` prints it.
type deviceJSON struct {
	Spec        string            `json:"spec"`
	Name        string            `json:"name"`
	Vendor      string            `json:"vendor,omitempty"`
	API         string            `json:"api"`
	Type        string            `json:"type"`
	Driver      string            `json:"driver,omitempty"`
	Compute     bool              `json:"compute"`
	Reason      string            `json:"reason,omitempty"`
	Limits      map[string]uint64 `json:"limits,omitempty"`
	Parallelism int               `json:"parallelism,omitempty"`
	// QuantizedWeights says whether --quantize runs on the device.
	QuantizedWeights bool `json:"quantized_weights"`
}

// newDevicesCmd builds `ia3 devices`.
func newDevicesCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the GPU adapters and the CPU, and whether each can compute",
		Long: `List every device ia3 can see: each WebGPU adapter (Vulkan, Metal, D3D12,
OpenGL) and the pure-Go CPU backend, with the spec --device accepts for it,
its API, type and driver, whether it can run compute shaders (and if not,
why), and the limits that bound model size (largest storage buffer,
workgroup memory and size). --json also says whether the device takes
quantized weights (quantized_weights: --quantize int8|nf4 runs there).

--device auto picks a discrete GPU, then an integrated one, then a software
adapter, then the CPU. A binary built without cgo (CGO_ENABLED=0) or with
-tags nowebgpu has no WebGPU backend: its one GPU line says so.`,
		Example: `  ia3 devices
  ia3 devices --json | jq '.[] | select(.compute) | .spec'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds := backend.Devices(cmd.Context())
			if asJSON {
				return writeDevicesJSON(a, ds)
			}
			return writeDevicesTable(a, ds)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

// writeDevicesJSON prints the devices as a JSON array.
func writeDevicesJSON(a *app, ds []backend.DeviceInfo) error {
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceJSON{Spec: d.Spec, Name: d.Name, Vendor: d.Vendor, API: d.API, Type: d.Type,
			Driver: d.Driver, Compute: d.Compute, Reason: d.Reason, Limits: d.Limits, Parallelism: d.Parallelism,
			QuantizedWeights: d.QuantizedWeights})
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeDevicesTable prints the devices as aligned columns.
func writeDevicesTable(a *app, ds []backend.DeviceInfo) error {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SPEC\tNAME\tAPI\tTYPE\tDRIVER\tCOMPUTE\tLIMITS")
	for _, d := range ds {
		compute := "yes"
		if !d.Compute {
			compute = "no: " + d.Reason
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Spec, d.Name, d.API, d.Type, orDash(d.Driver), compute, limitsText(d))
	}
	return w.Flush()
}

// keyLimits are the limits the table shows, with short labels: they bound
// the largest tensor and the matrix kernels' tiles. --json lists them all.
var keyLimits = []struct{ key, label string }{
	{"maxStorageBufferBindingSize", "max-tensor"},
	{"maxBufferSize", "max-buffer"},
	{"maxComputeWorkgroupStorageSize", "wg-memory"},
	{"maxComputeInvocationsPerWorkgroup", "wg-threads"},
}

// limitsText renders the key limits (byte counts in KiB or MiB), or the
// worker count for the CPU.
func limitsText(d backend.DeviceInfo) string {
	var parts []string
	for _, k := range keyLimits {
		v, ok := d.Limits[k.key]
		if !ok {
			continue
		}
		switch {
		case k.label == "wg-threads":
			parts = append(parts, fmt.Sprintf("%s=%d", k.label, v))
		case v >= 1<<20:
			parts = append(parts, fmt.Sprintf("%s=%dMiB", k.label, v>>20))
		default:
			parts = append(parts, fmt.Sprintf("%s=%dKiB", k.label, v>>10))
		}
	}
	if d.Parallelism > 0 {
		parts = append(parts, fmt.Sprintf("workers=%d", d.Parallelism))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// orDash returns s, or "-" for an empty table cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
