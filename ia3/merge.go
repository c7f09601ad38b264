package ia3

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/quant"
)

// staged is a layer's weight and bias as a merge or unmerge would leave
// them, computed before anything in the model changes.
type staged struct {
	layer    *Layer
	w, bias  backend.Tensor
	adapters []string // merged (Merge) or unmerged (Unmerge), in order
}

// Merge multiplies the vectors of the named adapters (default: the active
// ones) into the weights of every layer that has them, as PEFT's
// merge_adapter: W's output rows and the bias for ordinary layers, W's
// input columns for feed-forward layers. A merged layer then runs plain.
// With safe set, each merged weight is checked to be finite first and a
// broken adapter is refused by name. The merge is all or nothing: on error
// the model is unchanged. Merged weights are stored in F32, whatever dtype
// they were loaded in, except on a quantized base, where they are
// requantized as PEFT does on a bitsandbytes base (dequantize, scale,
// quantize again); the error that adds is logged and kept
// (RequantizationError).
func (m *Model) Merge(safe bool, names ...string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if m.b == nil {
		return fmt.Errorf("merge: the model has no backend (structure only)")
	}
	if len(names) == 0 {
		names = slices.Clone(m.active)
	}
	for _, n := range names {
		if _, ok := m.configs[n]; !ok {
			return fmt.Errorf("merge: Adapter %s does not exist", n)
		}
	}
	var plan []staged
	var re RequantError
	abort := func(err error) error {
		for _, s := range plan {
			m.releaseStaged(s)
		}
		return err
	}
	for _, l := range m.layers {
		var todo []string
		for _, n := range names {
			if l.vectors[n] != nil && !slices.Contains(l.merged, n) {
				todo = append(todo, n)
			}
		}
		if len(todo) == 0 {
			continue
		}
		if len(l.merged) > 0 {
			slog.Warn("ia3: merging more adapters into an already merged layer", "layer", l.Name, "merged", l.merged, "adding", todo)
		}
		s := staged{layer: l, w: l.Linear.Weight.T, adapters: todo}
		if l.Linear.Bias != nil {
			s.bias = l.Linear.Bias.T
		}
		for _, n := range todo {
			if err := m.scaleStep(&s, n, false); err != nil {
				m.releaseStaged(s)
				return abort(fmt.Errorf("merge adapter %s into %s: %w", n, l.Name, err))
			}
			if safe {
				ok, err := m.b.AllFinite(s.w)
				if err != nil {
					m.releaseStaged(s)
					return abort(fmt.Errorf("merge adapter %s into %s: %w", n, l.Name, err))
				}
				if !ok {
					m.releaseStaged(s)
					return abort(fmt.Errorf("NaNs detected in the merged weights. The adapter %s seems to be broken (layer %s)", n, l.Name))
				}
			}
		}
		if err := m.requantize(&s, &re); err != nil {
			m.releaseStaged(s)
			return abort(fmt.Errorf("merge into %s: %w", l.Name, err))
		}
		plan = append(plan, s)
	}
	for _, s := range plan {
		m.commit(s)
		s.layer.merged = append(s.layer.merged, s.adapters...)
	}
	m.setRequant("merge", re)
	return nil
}

// Unmerge divides every merged vector back out of the weights, last merged
// first, by (l + 1e-8) as PEFT does (so the result is close to, not
// exactly, the original weight; on a quantized base it is requantized, as
// Merge does, and further from it).
func (m *Model) Unmerge() error {
	if err := m.usable(); err != nil {
		return err
	}
	if !m.anyMerged() {
		slog.Warn("ia3: already unmerged, nothing to do")
		return nil
	}
	var plan []staged
	var re RequantError
	release := func() {
		for _, p := range plan {
			m.releaseStaged(p)
		}
	}
	for _, l := range m.layers {
		if len(l.merged) == 0 {
			continue
		}
		s := staged{layer: l, w: l.Linear.Weight.T, adapters: slices.Clone(l.merged)}
		if l.Linear.Bias != nil {
			s.bias = l.Linear.Bias.T
		}
		for i := len(l.merged) - 1; i >= 0; i-- {
			n := l.merged[i]
			if err := m.scaleStep(&s, n, true); err != nil {
				m.releaseStaged(s)
				release()
				return fmt.Errorf("unmerge adapter %s from %s: %w", n, l.Name, err)
			}
		}
		if err := m.requantize(&s, &re); err != nil {
			m.releaseStaged(s)
			release()
			return fmt.Errorf("unmerge from %s: %w", l.Name, err)
		}
		plan = append(plan, s)
	}
	for _, s := range plan {
		m.commit(s)
		s.layer.merged = nil
	}
	m.setRequant("unmerge", re)
	return nil
}

// RequantError is what requantizing merged weights adds on a quantized
// base: the largest difference between the requantized weights and the
// float weights the merge computed from the dequantized ones, absolute and
// relative to the largest float weight of the same layer.
type RequantError struct {
	Layers         int // layers requantized
	MaxAbs, MaxRel float64
}

// RequantizationError returns the requantization error of the last Merge,
// Unmerge or MergeAndUnload; zero when the base is not quantized.
func (m *Model) RequantizationError() RequantError { return m.requant }

// requantize quantizes s's merged weight again, in the format of the
// layer's stored weight, when that is quantized, adding the error to re.
// The round trip runs on the host: quantization is exact integer work
// there (package quant), so every device stores the same bytes.
func (m *Model) requantize(s *staged, re *RequantError) error {
	dt := s.layer.Linear.Weight.T.DType()
	if !dt.IsQuantized() || s.w == s.layer.Linear.Weight.T {
		return nil
	}
	shape := s.w.Shape()
	v, err := m.b.ToFloat32(s.w)
	if err != nil {
		return err
	}
	f := dt.QuantFormat()
	raw, err := quant.Quantize(f, v, shape[0], shape[1])
	if err != nil {
		return err
	}
	deq, err := quant.Dequantize(f, raw, shape[0], shape[1])
	if err != nil {
		return err
	}
	var maxAbs, maxW float64
	for i, x := range v {
		maxAbs = math.Max(maxAbs, math.Abs(float64(deq[i])-float64(x)))
		maxW = math.Max(maxW, math.Abs(float64(x)))
	}
	t, err := m.b.FromBytes(dt, raw, shape...)
	if err != nil {
		return err
	}
	m.dropIntermediate(s.w, s.layer.Linear.Weight)
	s.w = t
	re.Layers++
	re.MaxAbs = math.Max(re.MaxAbs, maxAbs)
	if maxW > 0 {
		re.MaxRel = math.Max(re.MaxRel, maxAbs/maxW)
	}
	return nil
}

// setRequant records a merge's or unmerge's requantization error and logs
// it when there was one.
func (m *Model) setRequant(op string, re RequantError) {
	m.requant = re
	if re.Layers > 0 {
		slog.Info("ia3: "+op+" on a quantized base: weights requantized", "layers", re.Layers,
			"max_abs_err", re.MaxAbs, "max_rel_err", re.MaxRel)
	}
}

// scaleStep multiplies (or with invert divides) s's weight and, for
// non-feed-forward layers, its bias by adapter's vector [n] (a K/V-only
// vector widened with ones over the query outputs, which stay as they
// are), replacing s.w/s.bias with new tensors (intermediates of a chain
// are freed).
func (m *Model) scaleStep(s *staged, adapter string, invert bool) error {
	l := s.layer
	v, fresh, err := l.widenTensor(m.b, l.vectors[adapter].T, adapter)
	if err != nil {
		return err
	}
	if fresh {
		defer m.b.Free(v)
	}
	// Output features are W's rows for Linear (out, in) and its columns for
	// Conv1D (in, out); input features the other way round.
	rows := l.Feedforward == l.Linear.FanInFanOut
	var w backend.Tensor
	if rows {
		w, err = m.b.ScaleRows(s.w, v, invert)
	} else {
		w, err = m.b.ScaleCols(s.w, v, invert)
	}
	if err != nil {
		return fmt.Errorf("weight %v by vector %v: %w", s.w.Shape(), v.Shape(), err)
	}
	m.dropIntermediate(s.w, l.Linear.Weight)
	s.w = w
	if l.Feedforward || s.bias == nil {
		return nil
	}
	b, err := m.scaleVector(s.bias, v, invert)
	if err != nil {
		return fmt.Errorf("bias %v by vector %v: %w", s.bias.Shape(), v.Shape(), err)
	}
	m.dropIntermediate(s.bias, l.Linear.Bias)
	s.bias = b
	return nil
}

// scaleVector returns x ⊙ v (or x / (v + 1e-8)) for vectors [n] as a new
// F32 [n] tensor.
func (m *Model) scaleVector(x, v backend.Tensor, invert bool) (backend.Tensor, error) {
	n := x.Len()
	col, err := m.b.View(x, n, 1)
	if err != nil {
		return nil, err
	}
	r, err := m.b.ScaleRows(col, v, invert)
	if err != nil {
		return nil, err
	}
	defer m.b.Free(r)
	flat, err := m.b.View(r, n)
	if err != nil {
		return nil, err
	}
	return m.b.Copy(flat)
}

// dropIntermediate frees t when it is a staged intermediate (not the
// parameter's current storage).
func (m *Model) dropIntermediate(t backend.Tensor, p *nn.Param) {
	if t != nil && (p == nil || t != p.T) {
		m.b.Free(t)
	}
}

// releaseStaged frees a plan entry that will not be committed.
func (m *Model) releaseStaged(s staged) {
	m.dropIntermediate(s.w, s.layer.Linear.Weight)
	if s.layer.Linear.Bias != nil {
		m.dropIntermediate(s.bias, s.layer.Linear.Bias)
	}
}

// commit installs a staged weight and bias, freeing the replaced storage
// unless another parameter still uses it (tied weights).
func (m *Model) commit(s staged) {
	lin := s.layer.Linear
	m.replace(lin.Weight, s.w)
	if lin.Bias != nil && s.bias != nil {
		m.replace(lin.Bias, s.bias)
	}
}

func (m *Model) replace(p *nn.Param, t backend.Tensor) {
	old := p.T
	p.T = t
	if old == nil || old == t {
		return
	}
	for _, nm := range m.info.modules {
		for _, q := range nm.Module.Params() {
			if q != nil && q.T == old {
				return // still in use elsewhere
			}
		}
	}
	m.b.Free(old)
}

// unload removes every adapter from the base model, optionally merging
// first, as PEFT's _unload_and_optionally_merge: Linear layers lose their
// adapter, vectors are freed, and each modules_to_save module keeps the
// active adapter's copy (the original when that adapter has none, see
// unloadSaved). The ia3 Model is unusable afterwards.
//
// A modules_to_save module without a weight of its own (RoBERTa's
// RobertaClassificationHead, a BERT pooler) is where PEFT 0.21 fails both
// operations (AttributeError: 'RobertaClassificationHead' object has no
// attribute 'weight'); this package deliberately does them. Merging keeps
// the active adapter's copy, as for any module; unloading without a merge
// gives the original module back, as PEFT documents unload ("gives back
// the original base model"). Either way the module's children hold the
// parameters under the base model's names (classifier.dense.weight,
// classifier.out_proj.weight), so the saved checkpoint loads in
// transformers.
func (m *Model) unload(merge, safe bool, names []string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if merge {
		if err := m.Merge(safe, names...); err != nil {
			return err
		}
	}
	m.detachLayers()
	keep := ""
	if len(m.active) == 1 {
		keep = m.active[0]
	}
	var errs []error
	for _, s := range m.saved {
		k := keep
		if !merge && !m.hasOwnWeight(s.name) {
			k = "" // see unload's doc: PEFT has no behaviour to follow here
		}
		errs = append(errs, m.unloadSaved(s, k))
	}
	m.reset()
	return errors.Join(errs...)
}

// detachLayers takes every adapter off its layer and frees the vectors.
func (m *Model) detachLayers() {
	for _, l := range m.layers {
		l.Linear.Adapter = nil
		for _, p := range l.vectors {
			m.free(p.T)
			p.T = nil
		}
		if m.b != nil {
			l.freeOnes(m.b)
		}
	}
}

// reset leaves the Model empty and unusable.
func (m *Model) reset() {
	m.layers, m.saved, m.byName = nil, nil, map[string]*Layer{}
	m.configs, m.names, m.active = map[string]*Config{}, nil, nil
	m.unloaded = true
}

// unloadSaved ends a modules_to_save wrapper as PEFT's unload does: the
// module keeps adapter keep's copy (the originals when it has none) and
// every other copy is freed. A kept copy of an untied parameter moves its
// storage into the original parameter, which model.Params lists (so
// model.Save writes it and model.Free releases it). A kept copy of a tied
// parameter stays the module's own parameter, untied from the other owner
// as PEFT's deep copy is: model.Save then writes the shared tensor once,
// under its first owner, and model.Free does not release the copy.
func (m *Model) unloadSaved(s *savedModule, keep string) error {
	kept, ok := s.copies[keep]
	if !ok {
		keep = ""
	}
	if err := s.install(keep); err != nil {
		return err
	}
	for a, cs := range s.copies {
		if a != keep {
			freeParams(m.b, cs)
		}
	}
	if keep == "" {
		return nil
	}
	var errs []error
	for i, c := range kept {
		c.Trainable = false
		if s.tied[i] {
			c.Name = s.name + "." + s.locals[i]
			slog.Warn("ia3: unload leaves the modules_to_save copy of a tied parameter untied, as PEFT does",
				"module", s.name, "param", s.locals[i], "tied_to", s.originals[i].Name)
			continue
		}
		o := s.originals[i]
		old := o.T
		o.T, c.T = c.T, nil
		if err := s.put(i, o); err != nil {
			errs = append(errs, err)
			continue
		}
		m.replaceFreed(old, o)
	}
	return errors.Join(errs...)
}

// hasOwnWeight reports whether module name holds a "weight" parameter
// itself (a Linear head does; RobertaClassificationHead, whose weights sit
// in its children, does not).
func (m *Model) hasOwnWeight(name string) bool {
	for _, nm := range m.info.modules {
		if nm.Name == name {
			return nm.Module.Params()["weight"] != nil
		}
	}
	return false
}

// replaceFreed frees an original tensor replaced by a copy unless another
// parameter still holds it.
func (m *Model) replaceFreed(old backend.Tensor, except *nn.Param) {
	if m.b == nil || old == nil {
		return
	}
	for _, nm := range m.info.modules {
		for _, q := range nm.Module.Params() {
			if q != nil && q != except && q.T == old {
				return
			}
		}
	}
	m.b.Free(old)
}
