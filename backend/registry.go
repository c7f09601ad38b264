package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Provider is a family of devices: the CPU, or the adapters one GPU API
// layer exposes. Providers register themselves from their package's init,
// so a program picks its devices by import, as database/sql drivers are
// picked: backend/cpu, backend/webgpu, or backend/all for both. Library
// packages import none of them.
type Provider interface {
	// Name is the prefix of the specs Open accepts: "cpu" or "gpu".
	Name() string
	// Devices lists what the provider can open; Spec of each entry is the
	// string that opens it. Devices that cannot compute are listed with
	// Compute false and a Reason.
	Devices(ctx context.Context) ([]DeviceInfo, error)
	// Open opens the device whose Spec is spec. It returns the raw
	// backend; the package-level Open wraps it with Checked.
	Open(ctx context.Context, spec string) (Backend, error)
}

// registry is the one piece of global state the project keeps: providers
// are compiled in, so they register once from init.
var registry struct {
	sync.Mutex
	providers map[string]Provider
}

// Register adds a provider. Registering a name twice replaces the first.
func Register(p Provider) {
	registry.Lock()
	defer registry.Unlock()
	if registry.providers == nil {
		registry.providers = map[string]Provider{}
	}
	registry.providers[p.Name()] = p
}

func providers() []Provider {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Provider, 0, len(registry.providers))
	for _, p := range registry.providers {
		out = append(out, p)
	}
	// gpu before cpu, then by name: a stable listing order.
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name() == "cpu") != (out[j].Name() == "cpu") {
			return out[j].Name() == "cpu"
		}
		return out[i].Name() < out[j].Name()
	})
	return out
}

// Devices lists every device of every registered provider. A provider that
// fails to enumerate is logged and skipped, so the CPU is always listed.
func Devices(ctx context.Context) []DeviceInfo {
	var all []DeviceInfo
	for _, p := range providers() {
		ds, err := p.Devices(ctx)
		if err != nil {
			slog.Warn("cannot list devices", "provider", p.Name(), "err", err)
			continue
		}
		all = append(all, ds...)
	}
	return all
}

// typeRank orders device types for "auto": lower is preferred.
func typeRank(t string) int {
	switch t {
	case "DiscreteGPU":
		return 0
	case "IntegratedGPU":
		return 1
	case "CPU": // a software adapter such as lavapipe
		return 2
	case "Host": // the Go CPU backend
		return 4
	}
	return 3
}

// Open opens a device by spec: "auto" (the best device: a discrete GPU, then
// an integrated one, then a software adapter, then the CPU backend), "cpu",
// "gpu" (the best GPU adapter) or "gpu:N" (adapter N as Devices lists it).
// The backend it returns validates every call (see Checked). Only the
// providers the program links in are seen (see Provider).
func Open(ctx context.Context, spec string) (Backend, error) {
	spec = strings.TrimSpace(strings.ToLower(spec))
	if spec == "" {
		spec = "auto"
	}
	if spec == "auto" || spec == "gpu" {
		return openBest(ctx, spec)
	}
	name, _, _ := strings.Cut(spec, ":")
	for _, p := range providers() {
		if p.Name() == name {
			b, err := p.Open(ctx, spec)
			if err != nil {
				return nil, err
			}
			return Checked(b), nil
		}
	}
	if name == "cpu" || name == "gpu" {
		return nil, fmt.Errorf("device %q: no %s provider is linked into this program; import github.com/ia3/ia3/backend/all (or backend/%s) for its side effect, as database/sql drivers are", spec, name, providerPackage(name))
	}
	return nil, fmt.Errorf("unknown device %q: want auto, cpu, gpu or gpu:N (see `ia3 devices`)", spec)
}

func openBest(ctx context.Context, spec string) (Backend, error) {
	var cands []DeviceInfo
	var skipped []string
	for _, d := range Devices(ctx) {
		if spec == "gpu" && d.API == "Go" {
			continue
		}
		if !d.Compute {
			slog.Info("device skipped", "device", d.Spec, "name", d.Name, "api", d.API, "reason", d.Reason)
			skipped = append(skipped, fmt.Sprintf("%s (%s): %s", d.Spec, d.Name, d.Reason))
			continue
		}
		cands = append(cands, d)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		ri, rj := typeRank(cands[i].Type), typeRank(cands[j].Type)
		if ri != rj {
			return ri < rj
		}
		// Among equals prefer the native API over OpenGL.
		return cands[i].API != "OpenGL" && cands[j].API == "OpenGL"
	})
	for _, d := range cands {
		b, err := Open(ctx, d.Spec)
		if err != nil {
			slog.Warn("cannot open device, trying the next", "device", d.Spec, "name", d.Name, "err", err)
			continue
		}
		slog.Info("device chosen", "device", d.Spec, "name", d.Name, "api", d.API, "type", d.Type,
			"why", "best ranked of "+strconv.Itoa(len(cands))+" usable devices (discrete > integrated > software > CPU)")
		return b, nil
	}
	why := ""
	if len(skipped) > 0 {
		why = "; skipped " + strings.Join(skipped, "; ")
	}
	if spec == "gpu" {
		return nil, fmt.Errorf("no usable GPU adapter found (is a Vulkan, Metal or D3D12 driver installed? see `ia3 devices`)%s", why)
	}
	if len(providers()) == 0 {
		return nil, errors.New("no usable device found: no device provider is linked in; import github.com/ia3/ia3/backend/all (or backend/cpu) for its side effect")
	}
	return nil, fmt.Errorf("no usable device found%s", why)
}

// providerPackage names the package under backend/ that registers the
// provider called name.
func providerPackage(name string) string {
	if name == "gpu" {
		return "webgpu"
	}
	return name
}
