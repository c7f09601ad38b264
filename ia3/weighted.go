package ia3

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ia3/ia3/backend"
)

// ErrAdapterExists reports an adapter name already in use on the model.
var ErrAdapterExists = errors.New("adapter already exists")

// AddWeightedAdapter adds adapter name whose vectors are Σ weights[i]·l_i
// over the given adapters (an adapter missing from a layer contributes
// nothing there), as PEFT's add_weighted_adapter:
//
//   - an existing name is refused with an error wrapping ErrAdapterExists
//     (PEFT returns silently and keeps the old adapter, which a caller
//     would take for success);
//   - every listed adapter must exist;
//   - two of them with modules_to_save on the same module are refused;
//   - their target (and feed-forward) modules must all be lists or all be
//     regexes: lists are joined as a set union, regexes as "(a)|(b)";
//   - (an ia3 extension) they must agree on Config.FusedKVOnly, which the
//     new adapter inherits;
//   - the new adapter's other settings come from the first adapter, its
//     modules_to_save copies start from the original module, and it is
//     neither active nor trainable.
//
// Unlike PEFT, which zips the lists silently, adapters and weights of
// different lengths are refused.
func (m *Model) AddWeightedAdapter(adapters []string, weights []float64, name string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if _, ok := m.configs[name]; ok {
		return fmt.Errorf("add_weighted_adapter: adapter %q: %w; choose another name", name, ErrAdapterExists)
	}
	if len(adapters) == 0 {
		return errors.New("add_weighted_adapter: no adapters given")
	}
	if len(adapters) != len(weights) {
		return fmt.Errorf("add_weighted_adapter: %d adapters but %d weights", len(adapters), len(weights))
	}
	for _, a := range adapters {
		if _, ok := m.configs[a]; !ok {
			return fmt.Errorf("Adapter %s does not exist", a)
		}
	}
	for _, s := range m.saved {
		n := 0
		for _, a := range adapters {
			if _, ok := s.copies[a]; ok {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("Cannot add weighted adapters targeting the same module with modules_to_save (module %s)", s.name)
		}
	}
	for _, a := range adapters[1:] {
		if m.configs[a].FusedKVOnly != m.configs[adapters[0]].FusedKVOnly {
			return fmt.Errorf("add_weighted_adapter: adapters %s and %s differ in %s (their fused q/k/v vectors cover different outputs); combine adapters of one kind", adapters[0], a, FusedKVOnlyKey)
		}
	}
	target, err := m.joinModules(adapters, func(c *Config) Modules { return c.TargetModules })
	if err != nil {
		return err
	}
	ff, err := m.joinModules(adapters, func(c *Config) Modules { return c.FeedforwardModules })
	if err != nil {
		return err
	}
	cfg := m.configs[adapters[0]].Clone()
	cfg.TargetModules, cfg.FeedforwardModules = target, ff
	if err := m.inject(name, cfg); err != nil {
		return err
	}
	m.setTrainable(name, false)
	if err := m.syncSaved(); err != nil {
		return err
	}

	w32 := make([]float32, len(weights))
	for i, w := range weights {
		w32[i] = float32(w)
	}
	for _, l := range m.layers {
		p := l.vectors[name]
		if p == nil || m.b == nil {
			continue
		}
		var xs []backend.Tensor
		var ws []float32
		for i, a := range adapters {
			if v := l.vectors[a]; v != nil {
				xs = append(xs, v.T)
				ws = append(ws, w32[i])
			}
		}
		var sum backend.Tensor
		if len(xs) == 0 {
			sum, err = m.b.Zeros(l.AdapterVectorLen(name))
		} else {
			sum, err = m.b.WeightedSum(xs, ws)
		}
		if err != nil {
			_ = m.DeleteAdapter(name)
			return fmt.Errorf("add_weighted_adapter %s: layer %s: %w", name, l.Name, err)
		}
		m.b.Free(p.T)
		p.T = sum
	}
	return nil
}

// joinModules combines one Modules field of several adapters' configs.
func (m *Model) joinModules(adapters []string, field func(*Config) Modules) (Modules, error) {
	patterns := 0
	for _, a := range adapters {
		if field(m.configs[a]).IsPattern() {
			patterns++
		}
	}
	if patterns != 0 && patterns != len(adapters) {
		return Modules{}, errors.New("All adapter configs should have the same type for target and feedforward modules")
	}
	if patterns > 0 {
		parts := make([]string, len(adapters))
		for i, a := range adapters {
			parts[i] = "(" + field(m.configs[a]).pattern + ")"
		}
		return Pattern(strings.Join(parts, "|")), nil
	}
	var all []string
	for _, a := range adapters {
		all = append(all, field(m.configs[a]).names...)
	}
	return Names(all...), nil
}
