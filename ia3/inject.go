package ia3

import (
	"fmt"
	"log/slog"

	"github.com/ia3/ia3/model/nn"
)

// inject resolves cfg against the base, allocates the new adapter's
// vectors and modules_to_save copies, and only then attaches them, so a
// failure leaves the model as it was.
func (m *Model) inject(name string, cfg *Config) error {
	if err := m.checkAdapterName(name); err != nil {
		return err
	}
	if _, ok := m.configs[name]; ok {
		return fmt.Errorf("adapter %q: %w", name, ErrAdapterExists)
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
			r.FanInFanOut = t.lin.Type() == "Conv1D" // a quantized base holds Conv1D weights (out, in)
		}
	}

	vecs, skips, err := m.newVectors(name, r, targets)
	if err != nil {
		return fmt.Errorf("adapter %q: %w", name, err)
	}
	pending, err := m.newCopies(name, saves)
	if err != nil {
		for _, p := range vecs {
			m.free(p.T)
		}
		return fmt.Errorf("adapter %q: %w", name, err)
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
			l = &Layer{Name: t.name, Linear: t.lin, Feedforward: t.feedforward, vectors: map[string]*nn.Param{}, skip: map[string]int{}, owner: m}
			t.lin.Adapter = l
			m.byName[t.name] = l
			m.layers = append(m.layers, l)
		}
		l.vectors[name] = vecs[i]
		if skips[i] > 0 {
			l.skip[name] = skips[i]
		}
		l.order = append(l.order, name)
	}
	m.sortLayers()
	m.configs[name] = r
	m.names = append(m.names, name)
	return nil
}

// newVectors allocates adapter name's vector for each target (the
// feed-forward flag of a layer that already has an adapter wins, as in
// PEFT, and is written back into targets), and returns with them the
// query outputs each leaves unscaled (kvSkips).
func (m *Model) newVectors(name string, r *Config, targets []target) ([]*nn.Param, []int, error) {
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
	}
	skips, err := m.kvSkips(r, targets)
	if err != nil {
		return nil, nil, err
	}
	vecs := make([]*nn.Param, len(targets))
	for i, t := range targets {
		n := t.lin.Out - skips[i]
		if t.feedforward {
			n = t.lin.In
		}
		p := &nn.Param{Name: vectorName(t.name, name)}
		if m.b != nil {
			v, err := m.initVector(n, r.InitIA3Weights)
			if err != nil {
				for _, q := range vecs[:i] {
					m.free(q.T)
				}
				return nil, nil, fmt.Errorf("allocate vector of %s [%d]: %w", t.name, n, err)
			}
			p.T = v
		}
		vecs[i] = p
	}
	return vecs, skips, nil
}

// kvSkips returns, per target, how many leading (query) outputs the
// adapter's vector leaves unscaled: under r.FusedKVOnly the query outputs
// of each fused query/key/value projection, 0 elsewhere. An adapter with
// the extension set where it cannot apply is refused: on a model without
// fused projections, when no target is one, or when a fused projection is
// a feed-forward target (its input is scaled, not its q/k/v outputs).
func (m *Model) kvSkips(r *Config, targets []target) ([]int, error) {
	skips := make([]int, len(targets))
	if !r.FusedKVOnly {
		return skips, nil
	}
	fused := 0
	for i, t := range targets {
		if m.info.fusedQKV == nil {
			break
		}
		lay, ok := m.info.fusedQKV(t.name)
		if !ok {
			continue
		}
		if t.feedforward {
			return nil, fmt.Errorf("%s: target %s is a fused query/key/value projection marked feed-forward; only its key and value outputs can be scaled, so it must not be a feed-forward module", FusedKVOnlyKey, t.name)
		}
		if lay.Q+lay.K+lay.V != t.lin.Out || lay.Q <= 0 || lay.K+lay.V <= 0 {
			return nil, fmt.Errorf("%s: target %s has %d outputs, not the %d+%d+%d of its query/key/value layout", FusedKVOnlyKey, t.name, t.lin.Out, lay.Q, lay.K, lay.V)
		}
		skips[i] = lay.Q
		fused++
	}
	if fused == 0 {
		return nil, fmt.Errorf("%s is set, but no target is a fused query/key/value projection (model_type %q; the extension applies to GPT-2's attn.c_attn): target key and value projections directly instead, or remove the key", FusedKVOnlyKey, m.info.modelType)
	}
	return skips, nil
}

// pendingSave is a modules_to_save module and the copies a new adapter
// will own there.
type pendingSave struct {
	s      *savedModule
	fresh  bool // the module is not wrapped yet
	copies []*nn.Param
}

// newCopies copies the original parameters of each modules_to_save module
// for adapter name (PEFT deep-copies the original module): each copy is a
// parameter of its own, shared with no other module.
func (m *Model) newCopies(name string, saves []nn.NamedModule) ([]pendingSave, error) {
	pending := make([]pendingSave, 0, len(saves))
	release := func() {
		for _, ps := range pending {
			for _, c := range ps.copies {
				m.free(c.T)
			}
		}
	}
	for _, sm := range saves {
		ps := pendingSave{s: m.savedByName(sm.Name)}
		if ps.s == nil {
			s, err := newSavedModule(sm.Name, m.info.modules)
			if err != nil {
				release()
				return nil, err
			}
			ps.s, ps.fresh = s, true
		}
		for j, o := range ps.s.originals {
			c := &nn.Param{Name: ps.s.copyName(name, j)}
			if m.transposedQuantized(o) {
				// Its copy would train and save (out, in), where PEFT's
				// Conv1D keys are (in, out).
				release()
				return nil, fmt.Errorf("modules_to_save %s: a Conv1D weight of a quantized base cannot be copied for training; load the base without quantization", ps.s.savedKey(j))
			}
			if m.b != nil && o.T != nil {
				t, err := m.b.Copy(o.T)
				if err != nil {
					pending = append(pending, ps)
					release()
					return nil, fmt.Errorf("copy modules_to_save %s: %w", ps.s.savedKey(j), err)
				}
				c.T = t
			}
			ps.copies = append(ps.copies, c)
		}
		pending = append(pending, ps)
	}
	return pending, nil
}

// transposedQuantized reports whether p is the weight of a Conv1D layer a
// quantized base holds (out, in) (nn.Linear.Transposed).
func (m *Model) transposedQuantized(p *nn.Param) bool {
	for _, nm := range m.info.modules {
		if l, ok := nm.Module.(*nn.Linear); ok && l.Weight == p && l.Transposed {
			return true
		}
	}
	return false
}

// checkOverlap refuses an adapter layer inside a modules_to_save module
// (of this adapter or another): the copies would replace weights the merge
// rewrites.
func (m *Model) checkOverlap(name string, targets []target, saves []nn.NamedModule) error {
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
