package ia3

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// savedModule is PEFT's ModulesToSaveWrapper: a module (a classification
// head, an output layer) of which each adapter keeps its own trainable
// copy. Installing a copy replaces the parameter pointers of the module
// and its children (nn.ParamSetter), so the model's forward code needs no
// change, and a parameter the module shares with another one (an lm_head
// tied to the input embedding) is replaced in this module only, as PEFT's
// deep copy is. With adapters disabled or none in use the original
// parameters are back.
type savedModule struct {
	name      string      // module name, e.g. "classifier"
	locals    []string    // parameter names inside the module ("weight", "dense.bias")
	owners    [][]owner   // per parameter, every module inside that holds it
	originals []*nn.Param // the model's parameters, same order
	// tied marks originals also held by a module outside this one.
	tied      []bool
	copies    map[string][]*nn.Param // per adapter, same order; Name as PEFT's
	installed string                 // adapter whose copies are in place ("" = originals)
}

// owner is one module slot holding a parameter.
type owner struct {
	mod   nn.ParamSetter
	local string // the parameter's name inside mod
}

// inside reports whether module mod is parent or one of its descendants.
func inside(mod, parent string) bool {
	return mod == parent || parent == "" || strings.HasPrefix(mod, parent+".")
}

// newSavedModule collects the parameters of module name and its children.
// Every module holding one must be an nn.ParamSetter.
func newSavedModule(name string, modules []nn.NamedModule) (*savedModule, error) {
	s := &savedModule{name: name, copies: map[string][]*nn.Param{}}
	index := map[*nn.Param]int{}
	for _, nm := range modules {
		if !inside(nm.Name, name) {
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
			if p == nil {
				continue
			}
			setter, ok := nm.Module.(nn.ParamSetter)
			if !ok {
				return nil, fmt.Errorf("modules_to_save %s: module %s (%s) cannot have its parameter %s replaced", name, nm.Name, nm.Module.Type(), k)
			}
			i, seen := index[p]
			if !seen {
				i = len(s.originals)
				index[p] = i
				s.locals = append(s.locals, prefix+k)
				s.originals = append(s.originals, p)
				s.owners = append(s.owners, nil)
			}
			s.owners[i] = append(s.owners[i], owner{mod: setter, local: k})
		}
	}
	s.tied = make([]bool, len(s.originals))
	for _, nm := range modules {
		if inside(nm.Name, name) {
			continue
		}
		for _, p := range nm.Module.Params() {
			if i, ok := index[p]; ok && p != nil {
				s.tied[i] = true
			}
		}
	}
	return s, nil
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

// install puts adapter's copies (or the originals for "") in place of the
// module's parameters. An adapter without a copy here installs the
// originals.
func (s *savedModule) install(adapter string) error {
	ps, ok := s.copies[adapter]
	if !ok {
		adapter, ps = "", s.originals
	}
	var errs []error
	for i, p := range ps {
		errs = append(errs, s.put(i, p))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.installed = adapter
	return nil
}

// put makes p parameter i of every module inside that holds it.
func (s *savedModule) put(i int, p *nn.Param) error {
	for _, o := range s.owners[i] {
		if err := o.mod.SetParam(o.local, p); err != nil {
			return fmt.Errorf("modules_to_save %s: install %s: %w", s.name, s.locals[i], err)
		}
	}
	return nil
}

// setTrainable marks the adapter's copies trainable or frozen.
func (s *savedModule) setTrainable(adapter string, on bool) {
	for _, c := range s.copies[adapter] {
		c.Trainable = on
	}
}

// remove frees an adapter's copies, installing the originals first when
// they were in place.
func (s *savedModule) remove(adapter string, b backend.Backend) error {
	if s.installed == adapter {
		if err := s.install(""); err != nil {
			return err
		}
	}
	freeParams(b, s.copies[adapter])
	delete(s.copies, adapter)
	return nil
}

// freeParams frees the storage of ps and clears it.
func freeParams(b backend.Backend, ps []*nn.Param) {
	for _, p := range ps {
		if b != nil && p.T != nil {
			b.Free(p.T)
		}
		p.T = nil
	}
}
