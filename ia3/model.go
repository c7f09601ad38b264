package ia3

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
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
	m.syncSaved()
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
		return errors.New("ia3: the adapters were unloaded from this model")
	}
	return nil
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
	m.syncSaved()
	return nil
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

// inject resolves cfg against the base, allocates the new adapter's
// vectors and modules_to_save copies, and only then attaches them, so a
// failure leaves the model as it was.
func (m *Model) inject(name string, cfg *Config) error {
	if err := m.checkAdapterName(name); err != nil {
		return err
	}
	if _, ok := m.configs[name]; ok {
		return fmt.Errorf("adapter %q already exists", name)
	}
	if cfg == nil {
		return fmt.Errorf("adapter %q: nil config", name)
	}
	r, err := resolveConfig(cfg, m.info)
	if err != nil {
		return fmt.Errorf("adapter %q: %w", name, err)
	}
	targets, err := planTargets(r, m.info.modules)
	if err != nil {
		return fmt.Errorf("adapter %q: %w", name, err)
	}
	saves := saveTargets(r.ModulesToSave, m.info.modules)
	if err := m.checkOverlap(name, targets, saves); err != nil {
		return err
	}
	// PEFT sets fan_in_fan_out to the type of each layer it creates (not of
	// layers that already carry an adapter), so the saved config ends with
	// the last created layer's.
	for _, t := range targets {
		if m.byName[t.name] == nil {
			r.FanInFanOut = t.lin.FanInFanOut
		}
	}

	var allocated []backend.Tensor
	fail := func(err error) error {
		for _, t := range allocated {
			m.b.Free(t)
		}
		return fmt.Errorf("adapter %q: %w", name, err)
	}
	vecs := make([]*nn.Param, len(targets))
	for i, t := range targets {
		ff := t.feedforward
		if l := m.byName[t.name]; l != nil {
			if l.Feedforward != ff {
				slog.Warn("ia3: the layer keeps the feed-forward flag of its first adapter, as PEFT does",
					"layer", t.name, "adapter", name, "feedforward", l.Feedforward)
			}
			ff = l.Feedforward
		}
		targets[i].feedforward = ff
		n := t.lin.Out
		if ff {
			n = t.lin.In
		}
		p := &nn.Param{Name: vectorName(t.name, name)}
		if m.b != nil {
			v, err := m.initVector(n, r.InitIA3Weights)
			if err != nil {
				return fail(fmt.Errorf("allocate vector of %s [%d]: %w", t.name, n, err))
			}
			allocated = append(allocated, v)
			p.T = v
		}
		vecs[i] = p
	}
	type pendingSave struct {
		s      *savedModule
		fresh  bool
		copies []*nn.Param
	}
	pending := make([]pendingSave, len(saves))
	for i, sm := range saves {
		ps := pendingSave{s: m.savedByName(sm.Name)}
		if ps.s == nil {
			ps.s, ps.fresh = newSavedModule(sm.Name, m.info.modules), true
		}
		ps.copies = make([]*nn.Param, len(ps.s.params))
		for j := range ps.s.params {
			c := &nn.Param{Name: ps.s.copyName(name, j)}
			if m.b != nil && ps.s.originals[j] != nil {
				t, err := m.b.Copy(ps.s.originals[j])
				if err != nil {
					return fail(fmt.Errorf("copy modules_to_save %s: %w", ps.s.savedKey(j), err))
				}
				allocated = append(allocated, t)
				c.T = t
			}
			ps.copies[j] = c
		}
		pending[i] = ps
	}

	for _, ps := range pending {
		if ps.fresh {
			m.saved = append(m.saved, ps.s)
		}
		ps.s.copies[name] = ps.copies
	}
	for i, t := range targets {
		l := m.byName[t.name]
		if l == nil {
			l = &Layer{Name: t.name, Linear: t.lin, Feedforward: t.feedforward, vectors: map[string]*nn.Param{}, owner: m}
			t.lin.Adapter = l
			m.byName[t.name] = l
			m.layers = append(m.layers, l)
		}
		l.vectors[name] = vecs[i]
		l.order = append(l.order, name)
	}
	m.sortLayers()
	m.configs[name] = r
	m.names = append(m.names, name)
	return nil
}

// checkOverlap refuses an adapter layer inside a modules_to_save module
// (of this adapter or another): the copies would swap weights the merge
// rewrites.
func (m *Model) checkOverlap(name string, targets []target, saves []nn.NamedModule) error {
	inside := func(mod, parent string) bool { return mod == parent || strings.HasPrefix(mod, parent+".") }
	for _, t := range targets {
		for _, s := range m.saved {
			if inside(t.name, s.name) {
				return fmt.Errorf("adapter %q: target %s lies inside modules_to_save module %s", name, t.name, s.name)
			}
		}
	}
	for _, s := range saves {
		for _, l := range m.layers {
			if inside(l.Name, s.Name) {
				return fmt.Errorf("adapter %q: modules_to_save module %s holds adapted layer %s", name, s.Name, l.Name)
			}
		}
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

// setTrainable marks an adapter's vectors and copies trainable or frozen.
func (m *Model) setTrainable(adapter string, on bool) {
	for _, l := range m.layers {
		if p := l.vectors[adapter]; p != nil {
			p.Trainable = on
		}
	}
	for _, s := range m.saved {
		s.setTrainable(adapter, on)
	}
}

// syncSaved installs in every modules_to_save module the copy of the one
// active adapter (originals when disabled, when several or none are
// active, or when the active adapter has no copy there).
func (m *Model) syncSaved() {
	for _, s := range m.saved {
		want := ""
		if !m.disabled && len(m.active) == 1 {
			want = m.active[0]
		}
		s.install(want)
	}
}

// SetAdapter makes names the active adapters, as PEFT's set_adapter: their
// vectors are applied (multiplied together where several act on one layer)
// and become trainable; every other adapter is frozen. Merged layers are
// unmerged first. With modules_to_save, only one adapter may be active.
func (m *Model) SetAdapter(names ...string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("Please specify at least one adapter to set")
	}
	for _, n := range names {
		if _, ok := m.configs[n]; !ok {
			return fmt.Errorf("Adapter %s not found (adapters: %s)", n, strings.Join(m.names, ", "))
		}
	}
	if len(names) > 1 {
		for _, s := range m.saved {
			return fmt.Errorf("Only one adapter can be set at a time for modules_to_save module %s, got %d (%s)",
				s.name, len(names), strings.Join(names, ", "))
		}
	}
	if m.anyMerged() {
		slog.Warn("ia3: adapter cannot be set when the model is merged; unmerging first")
		if err := m.Unmerge(); err != nil {
			return err
		}
	}
	m.active = slices.Clone(names)
	for _, n := range m.names {
		m.setTrainable(n, slices.Contains(names, n))
	}
	m.syncSaved()
	return nil
}

// EnableAdapterLayers applies the active adapters again after
// DisableAdapterLayers.
func (m *Model) EnableAdapterLayers() {
	m.disabled = false
	m.syncSaved()
}

// DisableAdapterLayers makes the model compute as the base model: no
// scaling, original modules_to_save parameters. Merged layers are unmerged
// (PEFT does so at the next forward).
func (m *Model) DisableAdapterLayers() error {
	if m.anyMerged() {
		if err := m.Unmerge(); err != nil {
			return err
		}
	}
	m.disabled = true
	m.syncSaved()
	return nil
}

// WithAdaptersDisabled runs fn with adapters disabled and restores the
// previous state afterwards (PEFT's `with model.disable_adapter():`).
func (m *Model) WithAdaptersDisabled(fn func() error) error {
	was := m.disabled
	if err := m.DisableAdapterLayers(); err != nil {
		return err
	}
	defer func() {
		m.disabled = was
		m.syncSaved()
	}()
	return fn()
}

// DeleteAdapter removes an adapter and frees its tensors. When it was
// active, the remaining active adapters stay active; if none remain, the
// first remaining adapter in sorted order becomes active (PEFT's rule), or
// none when no adapter is left.
func (m *Model) DeleteAdapter(name string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if _, ok := m.configs[name]; !ok {
		return fmt.Errorf("Adapter %s does not exist", name)
	}
	for _, l := range m.layers {
		if slices.Contains(l.merged, name) {
			return fmt.Errorf("adapter %s is merged into %s; unmerge before deleting it", name, l.Name)
		}
	}
	delete(m.configs, name)
	m.names = slices.DeleteFunc(m.names, func(s string) bool { return s == name })
	kept := m.layers[:0]
	for _, l := range m.layers {
		if p := l.vectors[name]; p != nil {
			m.free(p.T)
			delete(l.vectors, name)
			l.order = slices.DeleteFunc(l.order, func(s string) bool { return s == name })
		}
		if len(l.vectors) == 0 {
			l.Linear.Adapter = nil
			delete(m.byName, l.Name)
			continue
		}
		kept = append(kept, l)
	}
	m.layers = kept
	keptSaved := m.saved[:0]
	for _, s := range m.saved {
		s.remove(name, m.b)
		if len(s.copies) == 0 {
			s.install("")
			continue
		}
		keptSaved = append(keptSaved, s)
	}
	m.saved = keptSaved

	if slices.Contains(m.active, name) {
		m.active = slices.DeleteFunc(m.active, func(s string) bool { return s == name })
		if len(m.active) == 0 && len(m.names) > 0 {
			rest := slices.Sorted(slices.Values(m.names))
			slog.Warn("ia3: the deleted adapter was active; activating another", "deleted", name, "active", rest[0])
			m.active = []string{rest[0]}
		}
		for _, n := range m.names {
			m.setTrainable(n, slices.Contains(m.active, n))
		}
	}
	m.syncSaved()
	return nil
}

func (m *Model) free(t backend.Tensor) {
	if m.b != nil && t != nil {
		m.b.Free(t)
	}
}

// anyMerged reports whether some layer has an adapter merged in.
func (m *Model) anyMerged() bool {
	for _, l := range m.layers {
		if len(l.merged) > 0 {
			return true
		}
	}
	return false
}

// checkMixed validates a per-sample adapter list for a mixed batch.
func (m *Model) checkMixed(adapters []string) error {
	distinct := map[string]bool{}
	for _, a := range adapters {
		if a == "" {
			distinct[a] = true
			continue
		}
		if _, ok := m.configs[a]; !ok {
			return fmt.Errorf("mixed-adapter batch names adapter %q, which does not exist (adapters: %s)", a, strings.Join(m.names, ", "))
		}
		distinct[a] = true
	}
	if len(m.saved) == 0 {
		return nil
	}
	for a := range distinct {
		for _, s := range m.saved {
			_, has := s.copies[a]
			if a != s.installed && (has || s.installed != "") {
				return fmt.Errorf("mixed-adapter batch: module %s is a modules_to_save module (installed: %q), which cannot differ per sample (sample adapter %q)",
					s.name, s.installed, a)
			}
		}
	}
	return nil
}
