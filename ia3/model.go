package ia3

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
)

// DefaultAdapter is the adapter name PEFT uses when none is given; it is
// saved in the directory itself rather than a subdirectory.
const DefaultAdapter = "default"

// Model is PEFT's PeftModel over IA3Model: a base model whose
// Linear/Conv1D layers carry (IA)³ adapters. The base model's own forward
// runs unchanged; the adapted layers ask their Layer for the vectors.
type Model struct {
	info baseInfo
	b    backend.Backend // nil: structure only, no tensors
	base any             // the wrapped *model.Model, returned by the unload operations

	configs  map[string]*Config // resolved configs, by adapter
	names    []string           // adapters in insertion order
	layers   []*Layer           // in module order
	byName   map[string]*Layer
	saved    []*savedModule // modules_to_save, in module order
	active   []string
	disabled bool
	unloaded bool
	rng      *rand.Rand // N(0,1) init when init_ia3_weights is false
	// requant is the requantization error of the last merge or unmerge on
	// a quantized base (RequantizationError).
	requant RequantError
}

// newModel attaches the first adapter to the base described by info, as
// PEFT's get_peft_model does.
func newModel(info baseInfo, b backend.Backend, base any, cfg *Config, name string) (*Model, error) {
	m := &Model{
		info:    info,
		b:       b,
		base:    base,
		configs: map[string]*Config{},
		byName:  map[string]*Layer{},
		rng:     rand.New(rand.NewPCG(0, 0)),
	}
	// PEFT freezes every base parameter: only adapters train.
	for _, nm := range info.modules {
		for _, p := range nm.Module.Params() {
			if p != nil {
				p.Trainable = false
			}
		}
	}
	if err := m.inject(name, cfg); err != nil {
		return nil, err
	}
	m.active = []string{name}
	m.setTrainable(name, !m.configs[name].InferenceMode)
	if err := m.syncSaved(); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return m, nil
}

// SetSeed reseeds the generator that draws the N(0,1) vectors of adapters
// added later with init_ia3_weights false.
func (m *Model) SetSeed(seed uint64) { m.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// Backend returns the device the adapters live on (nil when structure only).
func (m *Model) Backend() backend.Backend { return m.b }

// Config returns a copy of an adapter's configuration as PEFT completes it
// (default targets filled in, "all-linear" expanded), or nil.
func (m *Model) Config(adapter string) *Config {
	if c, ok := m.configs[adapter]; ok {
		return c.Clone()
	}
	return nil
}

// Adapters lists every adapter, in the order they were added.
func (m *Model) Adapters() []string { return slices.Clone(m.names) }

// ActiveAdapters lists the adapters in use.
func (m *Model) ActiveAdapters() []string { return slices.Clone(m.active) }

// Layers lists the adapted layers in module order.
func (m *Model) Layers() []*Layer { return slices.Clone(m.layers) }

// AdaptersEnabled reports whether adapters are applied (not disabled).
func (m *Model) AdaptersEnabled() bool { return !m.disabled }

// ModulesToSave lists the modules wrapped as modules_to_save.
func (m *Model) ModulesToSave() []string {
	out := make([]string, len(m.saved))
	for i, s := range m.saved {
		out[i] = s.name
	}
	return out
}

func (m *Model) usable() error {
	if m.unloaded {
		return errors.New("ia3: the adapters were unloaded from this model or closed")
	}
	return nil
}

// Close frees everything the adapters hold on the backend: every
// adapter's vectors and modules_to_save copies. Layers lose their adapter
// and modules_to_save modules get their original parameters back, so the
// base model runs as it did before New, except that weights merged into it
// stay merged (they are the base model's storage now). The base model's
// own weights are not freed: they belong to *model.Model, whose Free
// releases them. The Model is unusable afterwards. Close is idempotent,
// and a no-op after Unload or MergeAndUnload, whose kept copies belong to
// the base model.
func (m *Model) Close() error {
	if m.unloaded {
		return nil
	}
	m.detachLayers()
	var errs []error
	for _, s := range m.saved {
		if err := s.install(""); err != nil {
			// Still in use by the module: leak rather than free it.
			errs = append(errs, err)
			continue
		}
		for _, cs := range s.copies {
			freeParams(m.b, cs)
		}
	}
	m.reset()
	return errors.Join(errs...)
}

// AddAdapter attaches another adapter, as PEFT's add_adapter: it is neither
// active nor trainable until SetAdapter names it.
func (m *Model) AddAdapter(name string, cfg *Config) error {
	if err := m.usable(); err != nil {
		return err
	}
	if err := m.inject(name, cfg); err != nil {
		return err
	}
	m.setTrainable(name, false)
	return m.syncSaved()
}

// checkAdapterName refuses names that could not be a directory of their
// own under a save directory, or that already exist.
func (m *Model) checkAdapterName(name string) error {
	switch {
	case name == "":
		return errors.New("adapter name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("adapter name %q is not allowed", name)
	case strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0):
		return fmt.Errorf("adapter name %q must not contain path separators", name)
	}
	return nil
}

// sortLayers keeps m.layers and m.saved in module order.
func (m *Model) sortLayers() {
	pos := make(map[string]int, len(m.info.modules))
	for i, nm := range m.info.modules {
		pos[nm.Name] = i
	}
	slices.SortStableFunc(m.layers, func(a, b *Layer) int { return pos[a.Name] - pos[b.Name] })
	slices.SortStableFunc(m.saved, func(a, b *savedModule) int { return pos[a.name] - pos[b.name] })
}

func (m *Model) savedByName(name string) *savedModule {
	for _, s := range m.saved {
		if s.name == name {
			return s
		}
	}
	return nil
}

// initVector returns an F32 [n] vector of ones, or of N(0,1) draws.
func (m *Model) initVector(n int, ones bool) (backend.Tensor, error) {
	v := make([]float32, n)
	for i := range v {
		if ones {
			v[i] = 1
		} else {
			v[i] = float32(m.rng.NormFloat64())
		}
	}
	return m.b.FromFloat32(v, n)
}
