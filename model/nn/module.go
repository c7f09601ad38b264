// Package nn holds the module tree and the differentiable operations that
// the architectures in package model are written in.
//
// A model is a tree of modules named exactly as transformers'
// named_modules() names them, so that IA3 matching sees what PEFT sees.
// Computation goes through a Graph, which calls backend operations and,
// when gradients are wanted, records a tape whose backward pass computes
// gradients only for trainable parameters (the (IA)³ vectors and
// modules_to_save copies): frozen weights get no gradient buffer and no
// weight-gradient matmul is run for them.
package nn

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Param is one named parameter of a model.
type Param struct {
	// Name is the full name as in a Hugging Face checkpoint or PEFT
	// state dict, e.g. "transformer.h.0.attn.c_attn.weight".
	Name string
	// T is the current storage. ia3 rewrites it when merging; it switches
	// modules_to_save copies by replacing the Param itself (ParamSetter).
	T backend.Tensor
	// Trainable says whether a Graph with gradients computes its gradient.
	Trainable bool
}

// Module is one node of the module tree.
type Module interface {
	// Type returns the torch class name: "Linear", "Conv1D", "Embedding",
	// "LayerNorm", "GPT2Block", ... IA3 adapts only Linear and Conv1D.
	Type() string
	// Params returns the module's own parameters (not its children's) by
	// local name ("weight", "bias").
	Params() map[string]*Param
}

// ParamSetter is a module whose parameters can be replaced by pointer.
// ia3 installs a modules_to_save copy this way: a parameter tied to
// another module (GPT-2's lm_head.weight is transformer.wte.weight) is then
// replaced in this module only, as PEFT's deep copy of the module leaves
// the other owner as it was.
type ParamSetter interface {
	Module
	// SetParam makes p the module's parameter local ("weight", "bias").
	// It refuses a nil p, a name the module does not have, and a p whose
	// storage shape differs from the current parameter's.
	SetParam(local string, p *Param) error
}

// setParam replaces *slot with p after SetParam's checks.
func setParam(class, local string, slot **Param, p *Param) error {
	switch {
	case slot == nil || *slot == nil:
		return fmt.Errorf("nn: %s has no parameter %q", class, local)
	case p == nil:
		return fmt.Errorf("nn: %s.%s: nil parameter", class, local)
	}
	if old := *slot; old.T != nil && p.T != nil && !slices.Equal(old.T.Shape(), p.T.Shape()) {
		return fmt.Errorf("nn: %s.%s: shape %v does not match the parameter's %v", class, local, p.T.Shape(), old.T.Shape())
	}
	*slot = p
	return nil
}

// NamedModule pairs a module with its named_modules() name (without any
// "base_model.model." prefix; the root is "").
type NamedModule struct {
	Name   string
	Module Module
}

// Container is a module with no parameters of its own (a block, a list, an
// attention wrapper); it exists so that names and types match transformers.
type Container struct {
	Class string
}

// Type returns the torch class name.
func (c *Container) Type() string { return c.Class }

// Params returns nil: a container owns no parameters directly.
func (c *Container) Params() map[string]*Param { return nil }

// Linear is torch.nn.Linear, or transformers' Conv1D when FanInFanOut is
// set (weight stored (in, out)).
type Linear struct {
	Weight      *Param // (out, in), or (in, out) when FanInFanOut
	Bias        *Param // [out] or nil
	In, Out     int
	FanInFanOut bool
	// Transposed marks a Conv1D whose weight is held (out, in) rather than
	// as its checkpoint stores it: a quantized base transposes Conv1D
	// weights before quantizing them along the input features, and clears
	// FanInFanOut, which describes the storage. The layer is still a
	// Conv1D (Type), and its checkpoint name and saved shape stay (in, out).
	Transposed bool
	// Adapter, when non-nil, rescales this layer's activations (ia3 sets it).
	Adapter LinearAdapter
}

// Type returns "Conv1D" for GPT-2's transposed layers, else "Linear".
func (l *Linear) Type() string {
	if l.FanInFanOut || l.Transposed {
		return "Conv1D"
	}
	return "Linear"
}

// Params returns weight and bias.
func (l *Linear) Params() map[string]*Param {
	m := map[string]*Param{"weight": l.Weight}
	if l.Bias != nil {
		m["bias"] = l.Bias
	}
	return m
}

// SetParam replaces the weight or bias (see ParamSetter).
func (l *Linear) SetParam(local string, p *Param) error {
	switch local {
	case "weight":
		return setParam(l.Type(), local, &l.Weight, p)
	case "bias":
		return setParam(l.Type(), local, &l.Bias, p)
	}
	return setParam(l.Type(), local, nil, p)
}

// LinearAdapter supplies the vectors a Linear layer fuses into its matmul.
type LinearAdapter interface {
	// Scaling returns the vectors for one forward call of the layer on an
	// input with the given number of rows (product of leading dims).
	// A zero Scaling leaves the layer plain.
	Scaling(g *Graph, rows int) (Scaling, error)
}

// Scaling is what a LinearAdapter returns: backend.LinearOptions' OutScale,
// InScale and ScaleIndex as graph values, so that gradients reach the
// vectors when they are trainable.
type Scaling struct {
	Out, In *Value         // [out] / [in], or stacked [A, n] with Index
	Index   backend.Tensor // I32 [rows] or nil; see backend.LinearOptions
}

// Embedding is torch.nn.Embedding.
type Embedding struct {
	Weight *Param // [num, dim]
}

// Type returns "Embedding".
func (e *Embedding) Type() string { return "Embedding" }

// Params returns the table.
func (e *Embedding) Params() map[string]*Param { return map[string]*Param{"weight": e.Weight} }

// SetParam replaces the table (see ParamSetter).
func (e *Embedding) SetParam(local string, p *Param) error {
	if local == "weight" {
		return setParam(e.Type(), local, &e.Weight, p)
	}
	return setParam(e.Type(), local, nil, p)
}

// Norm is a LayerNorm or RMS norm module (LayerNorm, LlamaRMSNorm,
// T5LayerNorm): Class names it.
type Norm struct {
	Class  string
	Weight *Param // may be nil
	Bias   *Param // nil for RMS norms
	Eps    float32
	RMS    bool
	// WeightOffset is added to the weight before scaling: 1 for Gemma's
	// RMS norms, which scale by (1 + weight) so that a zero weight is the
	// identity.
	WeightOffset float32
}

// Type returns the class name.
func (n *Norm) Type() string { return n.Class }

// Params returns weight and bias where present.
func (n *Norm) Params() map[string]*Param {
	m := map[string]*Param{}
	if n.Weight != nil {
		m["weight"] = n.Weight
	}
	if n.Bias != nil {
		m["bias"] = n.Bias
	}
	return m
}

// SetParam replaces the weight or bias (see ParamSetter).
func (n *Norm) SetParam(local string, p *Param) error {
	switch local {
	case "weight":
		return setParam(n.Type(), local, &n.Weight, p)
	case "bias":
		return setParam(n.Type(), local, &n.Bias, p)
	}
	return setParam(n.Type(), local, nil, p)
}
