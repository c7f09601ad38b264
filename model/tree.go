package model

import (
	"github.com/ia3/ia3/model/nn"
)

// treeBuilder assembles a module tree in transformers' named_modules()
// order, and the parameters in named_parameters() order (each parameter
// once: a tied weight is listed under its first owner).
type treeBuilder struct {
	modules []nn.NamedModule
	params  []*nn.Param
	// shapes holds the expected shape of every parameter by name.
	shapes map[string][]int
	// aliases maps the names a tied parameter also goes by in transformers'
	// state dict ("lm_head.weight") to its canonical parameter.
	aliases map[string]*nn.Param
	// fused lists the checkpoint entries held as several parameters.
	fused []*fusedEntry
}

func newTreeBuilder() *treeBuilder {
	return &treeBuilder{shapes: map[string][]int{}, aliases: map[string]*nn.Param{}}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (t *treeBuilder) add(name string, m nn.Module) {
	t.modules = append(t.modules, nn.NamedModule{Name: name, Module: m})
}

// container adds a parameter-free module: a model, block, list, dropout or
// activation, present so that names and classes match transformers.
func (t *treeBuilder) container(name, class string) {
	t.add(name, &nn.Container{Class: class})
}

func (t *treeBuilder) param(name string, shape ...int) *nn.Param {
	p := &nn.Param{Name: name}
	t.params = append(t.params, p)
	t.shapes[name] = shape
	return p
}

// linear adds a torch Linear (weight (out, in)) or, with conv1d, a
// transformers Conv1D (weight (in, out)).
func (t *treeBuilder) linear(name string, in, out int, bias, conv1d bool) *nn.Linear {
	l := &nn.Linear{In: in, Out: out, FanInFanOut: conv1d}
	t.add(name, l)
	if conv1d {
		l.Weight = t.param(name+".weight", in, out)
	} else {
		l.Weight = t.param(name+".weight", out, in)
	}
	if bias {
		l.Bias = t.param(name+".bias", out)
	}
	return l
}

// fusedEntry declares a checkpoint entry [blocks, in, cols] that the model
// holds as parts (fusedLinear), and is not itself a parameter.
func (t *treeBuilder) fusedEntry(name string, blocks, in, cols int) *fusedEntry {
	f := &fusedEntry{name: name, shape: []int{blocks, in, cols}}
	t.fused = append(t.fused, f)
	return f
}

// fusedLinear adds a Linear [out, in] that no module lists, whose weight
// (parameter name) is the transpose of columns [col, col+out) of block
// block of f.
func (t *treeBuilder) fusedLinear(f *fusedEntry, name string, block, col, in, out int) *nn.Linear {
	l := &nn.Linear{In: in, Out: out, Weight: t.param(name, out, in)}
	f.parts = append(f.parts, fusedPart{p: l.Weight, block: block, col: col})
	return l
}

// tiedLinear adds an output head sharing w (an embedding table [out, in]).
func (t *treeBuilder) tiedLinear(name string, in, out int, w *nn.Param) *nn.Linear {
	l := &nn.Linear{In: in, Out: out, Weight: w}
	t.add(name, l)
	t.aliases[name+".weight"] = w
	return l
}

func (t *treeBuilder) embedding(name string, num, dim int) *nn.Embedding {
	e := &nn.Embedding{}
	t.add(name, e)
	e.Weight = t.param(name+".weight", num, dim)
	return e
}

// tiedEmbedding adds an embedding module sharing w (T5's per-stack
// embed_tokens, tied to shared).
func (t *treeBuilder) tiedEmbedding(name string, w *nn.Param) *nn.Embedding {
	e := &nn.Embedding{Weight: w}
	t.add(name, e)
	t.aliases[name+".weight"] = w
	return e
}

// layerNorm adds a LayerNorm with weight and bias.
func (t *treeBuilder) layerNorm(name string, dim int, eps float64) *nn.Norm {
	n := &nn.Norm{Class: "LayerNorm", Eps: float32(eps)}
	t.add(name, n)
	n.Weight = t.param(name+".weight", dim)
	n.Bias = t.param(name+".bias", dim)
	return n
}

// rmsNorm adds an RMS norm (LlamaRMSNorm, T5LayerNorm) with a weight.
func (t *treeBuilder) rmsNorm(name, class string, dim int, eps float64) *nn.Norm {
	n := &nn.Norm{Class: class, Eps: float32(eps), RMS: true}
	t.add(name, n)
	n.Weight = t.param(name+".weight", dim)
	return n
}

func (t *treeBuilder) dropout(name string) { t.container(name, "Dropout") }

// activation adds the module transformers' ACT2FN builds for act.
func (t *treeBuilder) activation(name, act string) { t.container(name, activationClass(act)) }

// activationClass is the class ACT2FN instantiates for an activation name.
func activationClass(act string) string {
	switch act {
	case "gelu_new":
		return "NewGELUActivation"
	case "gelu":
		return "GELUActivation"
	case "gelu_pytorch_tanh":
		return "PytorchGELUTanh"
	case "relu":
		return "ReLU"
	case "silu", "swish":
		return "SiLU"
	case "tanh":
		return "Tanh"
	case "sigmoid":
		return "Sigmoid"
	}
	return act
}
