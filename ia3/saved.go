package ia3

import (
	"sort"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// savedModule is PEFT's ModulesToSaveWrapper: a module (a classification
// head) of which each adapter keeps its own trainable copy. The copies
// take turns in the module's own parameters (nn.Param.T is swapped), so
// the model's forward code needs no change: the adapter in use has its
// copy installed, and with adapters disabled or none in use the original
// tensors are back.
type savedModule struct {
	name      string      // module name, e.g. "classifier"
	locals    []string    // parameter names inside the module ("weight", "dense.bias")
	params    []*nn.Param // the model's parameters, same order
	originals []backend.Tensor
	copies    map[string][]*nn.Param // per adapter, same order; Name as PEFT's
	installed string                 // adapter whose copies are in params ("" = originals)
}

// newSavedModule collects the parameters of module name and its children.
func newSavedModule(name string, modules []nn.NamedModule) *savedModule {
	s := &savedModule{name: name, copies: map[string][]*nn.Param{}}
	seen := map[*nn.Param]bool{}
	for _, nm := range modules {
		if nm.Name != name && !(name == "" || strings.HasPrefix(nm.Name, name+".")) {
			continue
		}
		prefix := ""
		if nm.Name != name {
			prefix = strings.TrimPrefix(nm.Name, name+".") + "."
		}
		ps := nm.Module.Params()
		keys := sortedKeys(ps)
		// torch registers weight before bias; keep that order first.
		sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "weight" && keys[j] != "weight" })
		for _, k := range keys {
			p := ps[k]
			if p == nil || seen[p] {
				continue
			}
			seen[p] = true
			s.locals = append(s.locals, prefix+k)
			s.params = append(s.params, p)
			s.originals = append(s.originals, p.T)
		}
	}
	return s
}

// copyName is PEFT's parameter name of an adapter's copy.
func (s *savedModule) copyName(adapter string, i int) string {
	return "base_model.model." + s.name + ".modules_to_save." + adapter + "." + s.locals[i]
}

// savedKey is the key save_pretrained writes for parameter i (PEFT strips
// "modules_to_save.<adapter>").
func (s *savedModule) savedKey(i int) string {
	return "base_model.model." + s.name + "." + s.locals[i]
}

// install puts adapter's copies (or the originals for "") into the
// module's parameters, with the copies' trainable flags.
func (s *savedModule) install(adapter string) {
	if _, ok := s.copies[adapter]; !ok {
		adapter = ""
	}
	// Keep whatever the installed copy's storage became (training updates
	// it in place; a caller may also have replaced it).
	if cur, ok := s.copies[s.installed]; ok {
		for i, p := range s.params {
			cur[i].T = p.T
		}
	}
	for i, p := range s.params {
		if adapter == "" {
			p.T = s.originals[i]
			p.Trainable = false
		} else {
			c := s.copies[adapter][i]
			p.T = c.T
			p.Trainable = c.Trainable
		}
	}
	s.installed = adapter
}

// setTrainable marks the adapter's copies trainable or frozen.
func (s *savedModule) setTrainable(adapter string, on bool) {
	for _, c := range s.copies[adapter] {
		c.Trainable = on
	}
	if s.installed == adapter {
		for _, p := range s.params {
			p.Trainable = on
		}
	}
}

// remove frees an adapter's copies.
func (s *savedModule) remove(adapter string, b backend.Backend) {
	if s.installed == adapter {
		s.install("")
	}
	for _, c := range s.copies[adapter] {
		if b != nil && c.T != nil {
			b.Free(c.T)
		}
	}
	delete(s.copies, adapter)
}
