package cpu

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/ia3/ia3/backend"
)

func init() { backend.Register(provider{}) }

// provider registers the one CPU device under the spec "cpu".
type provider struct{}

// Name returns "cpu".
func (provider) Name() string { return "cpu" }

// Devices lists the host CPU with the matrix kernel Open would choose; an
// IA3_CPU_KERNEL this CPU cannot honour marks it unable to compute, with
// the reason.
func (provider) Devices(context.Context) ([]backend.DeviceInfo, error) {
	ar, err := archFromEnv()
	info := hostInfo(ar)
	info.Parallelism = runtime.GOMAXPROCS(0)
	if err != nil {
		info.Compute, info.Reason = false, err.Error()
	}
	return []backend.DeviceInfo{info}, nil
}

// Open returns a new CPU backend for the spec "cpu".
func (provider) Open(_ context.Context, spec string) (backend.Backend, error) {
	if spec != "cpu" && spec != "cpu:0" {
		return nil, fmt.Errorf("cpu: unknown device %q: the CPU provider opens only \"cpu\"", spec)
	}
	ar, err := archFromEnv()
	if err != nil {
		return nil, err
	}
	return newWithArch(0, ar), nil
}

// hostInfo describes the CPU, naming its model from /proc/cpuinfo where the
// system has one and the Go architecture otherwise; Driver names the matrix
// kernel ar, with its tile.
func hostInfo(ar gemmArch) backend.DeviceInfo {
	name, vendor := cpuModel("/proc/cpuinfo")
	if name == "" {
		name = runtime.GOARCH
	}
	return backend.DeviceInfo{
		Spec:    "cpu",
		Name:    name,
		Vendor:  vendor,
		API:     "Go",
		Type:    "Host",
		Driver:  fmt.Sprintf("%s %s/%s, sgemm kernel %s %d×%d", runtime.Version(), runtime.GOOS, runtime.GOARCH, ar.name, ar.mr, ar.nr),
		Compute: true,
		// Q8_0/NF4 weights are dequantized while packing (gemm_pack.go).
		QuantizedWeights: true,
	}
}

// cpuModel reads the model name and vendor of the first processor listed in
// a cpuinfo file; both are empty when the file is missing or lacks them.
func cpuModel(path string) (name, vendor string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "model name", "Model", "cpu model":
			if name == "" {
				name = value
			}
		case "vendor_id", "CPU implementer":
			if vendor == "" {
				vendor = value
			}
		}
		if name != "" && vendor != "" {
			break
		}
	}
	return name, vendor
}
