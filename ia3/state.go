package ia3

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
)

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
// active, or when the active adapter has no copy there). It fails only if
// a module refuses a parameter it accepted when it was wrapped.
func (m *Model) syncSaved() error {
	want := ""
	if !m.disabled && len(m.active) == 1 {
		want = m.active[0]
	}
	var errs []error
	for _, s := range m.saved {
		errs = append(errs, s.install(want))
	}
	return errors.Join(errs...)
}

// syncSavedLogged is syncSaved for callers that cannot return an error.
func (m *Model) syncSavedLogged() {
	if err := m.syncSaved(); err != nil {
		slog.Error("ia3: installing modules_to_save parameters", "err", err)
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
	return m.syncSaved()
}

// EnableAdapterLayers applies the active adapters again after
// DisableAdapterLayers.
func (m *Model) EnableAdapterLayers() {
	m.disabled = false
	m.syncSavedLogged()
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
	return m.syncSaved()
}

// WithAdaptersDisabled runs fn with adapters disabled and restores the
// previous state afterwards (PEFT's `with model.disable_adapter():`).
func (m *Model) WithAdaptersDisabled(fn func() error) (err error) {
	was := m.disabled
	if err := m.DisableAdapterLayers(); err != nil {
		return err
	}
	defer func() {
		m.disabled = was
		err = errors.Join(err, m.syncSaved())
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
			delete(l.skip, name)
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
	var errs []error
	for _, s := range m.saved {
		errs = append(errs, s.remove(name, m.b))
		if len(s.copies) == 0 {
			errs = append(errs, s.install(""))
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
	return errors.Join(append(errs, m.syncSaved())...)
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
