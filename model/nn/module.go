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

import "github.com/ia3/ia3/backend"

// Param is one named parameter of a model.
type Param struct {
	// Name is the full name as in a Hugging Face checkpoint or PEFT
	// state dict, e.g. "transformer.h.0.attn.c_attn.weight".
	Name string
	// T is the current storage. ia3 swaps it to switch modules_to_save
	// copies and rewrites it when merging.
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
	// Adapter, when non-nil, rescales this layer's activations (ia3 sets it).
	Adapter LinearAdapter
}

// Type returns "Conv1D" for GPT-2's transposed layers, else "Linear".
func (l *Linear) Type() string {
	if l.FanInFanOut {
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

// Norm is a LayerNorm or RMS norm module (LayerNorm, LlamaRMSNorm,
// T5LayerNorm): Class names it.
type Norm struct {
	Class  string
	Weight *Param // may be nil
	Bias   *Param // nil for RMS norms
	Eps    float32
	RMS    bool
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
