// Package model loads, runs and saves the transformer architectures the
// project adapts: GPT-2, GPT-J, GPT-Neo, GPT-NeoX, GPTBigCode, OPT,
// BLOOM, Falcon, the Llama family (Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma 2,
// Gemma 3 text, Phi-3, Mixtral), Llama 4's text model, Phi, T5, mT5, BART,
// BERT/RoBERTa and DeBERTa/DeBERTa-v2, as Hugging Face transformers defines
// them.
//
// A Model is a module tree named exactly as transformers' named_modules()
// names it (so PEFT-style matching sees the same names), parameters named
// as in the checkpoint, and a forward pass written once over the
// differentiable operations of package nn, so it runs on any backend.
package model

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/quant"
)

// Model is one loaded (or structure-only) transformer.
type Model struct {
	cfg     *Config
	b       backend.Backend
	arch    architecture
	modules []nn.NamedModule
	params  []*nn.Param
	shapes  map[string][]int
	aliases map[string]*nn.Param
	// dtypes records each parameter's storage dtype as loaded (safetensors
	// spelling), so Save writes it back the same way.
	dtypes map[string]string
	// fused lists the checkpoint entries the model holds as several
	// parameters (Llama 4's fused experts), which Save writes back whole.
	fused []*fusedEntry
	// quant is the format block weights are quantized in (LoadOptions
	// .Quantize, Quantize); quant.None for a float model.
	quant quant.Format
}

// architecture is one family's forward pass over the model's modules.
type architecture interface {
	// forward returns the logits (or hidden states for a bare encoder).
	// cache, when non-nil, holds keys and values of earlier steps.
	forward(g *nn.Graph, in *Inputs, cache *KVCache) *nn.Value
	// outputLayer is the module name of the output head.
	outputLayer() string
}

// New builds the model described by cfg. With b == nil it builds the
// structure only: the module tree with every Linear's In and Out, and
// parameters without storage (Param.T nil), as `ia3 inspect` and adapter
// matching need. With a backend the parameters are zero-filled F32
// tensors; Load and NewRandom fill them.
func New(cfg *Config, b backend.Backend) (*Model, error) {
	m, err := build(cfg, b)
	if err != nil {
		return nil, fmt.Errorf("model.New: %w", err)
	}
	if b == nil {
		return m, nil
	}
	err = m.fill(func(p *nn.Param, shape []int) (backend.Tensor, error) { return b.Zeros(shape...) })
	if err != nil {
		return nil, fmt.Errorf("model.New: %w", err)
	}
	return m, nil
}

// build assembles the module tree of cfg's architecture without storage.
func build(cfg *Config, b backend.Backend) (*Model, error) {
	if cfg == nil {
		return nil, errors.New("nil config")
	}
	t := newTreeBuilder()
	var a architecture
	switch cfg.ModelType {
	case "gpt2":
		a = buildGPT2(cfg, t)
	case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "mixtral":
		a = buildLlama(cfg, t)
	case "llama4_text", "llama4":
		l4, err := buildLlama4(cfg, t)
		if err != nil {
			return nil, err
		}
		a = l4
	case "phi":
		a = buildPhi(cfg, t)
	case "gpt_neox":
		a = buildGPTNeoX(cfg, t)
	case "opt":
		a = buildOPT(cfg, t)
	case "gptj":
		a = buildGPTJ(cfg, t)
	case "gpt_neo":
		a = buildGPTNeo(cfg, t)
	case "bloom":
		a = buildBloom(cfg, t)
	case "gpt_bigcode":
		a = buildGPTBigCode(cfg, t)
	case "falcon":
		a = buildFalcon(cfg, t)
	case "t5", "mt5":
		a = buildT5(cfg, t)
	case "bart":
		a = buildBART(cfg, t)
	case "bert", "roberta":
		a = buildBERT(cfg, t)
	case "deberta", "deberta-v2":
		a = buildDeBERTa(cfg, t)
	default:
		return nil, fmt.Errorf("model_type %q is not supported (supported: %v)", cfg.ModelType, SupportedModelTypes())
	}
	return &Model{cfg: cfg, b: b, arch: a, modules: t.modules, params: t.params,
		shapes: t.shapes, aliases: t.aliases, dtypes: map[string]string{}, fused: t.fused}, nil
}

// fill gives every parameter the tensor alloc returns (recorded as F32
// unless alloc set another dtype), freeing what it made on failure.
func (m *Model) fill(alloc func(p *nn.Param, shape []int) (backend.Tensor, error)) error {
	for _, p := range m.params {
		t, err := alloc(p, m.shapes[p.Name])
		if err != nil {
			m.Free()
			return fmt.Errorf("parameter %s %v: %w", p.Name, m.shapes[p.Name], err)
		}
		p.T = t
		if _, ok := m.dtypes[p.Name]; !ok {
			m.dtypes[p.Name] = "F32"
		}
	}
	return nil
}

// Config returns the model's configuration.
func (m *Model) Config() *Config { return m.cfg }

// Backend returns the device the parameters live on (nil for a
// structure-only model).
func (m *Model) Backend() backend.Backend { return m.b }

// Modules returns the module tree in transformers' named_modules() order,
// the root "" first. Callers must not modify the slice.
func (m *Model) Modules() []nn.NamedModule { return m.modules }

// Module returns the module named as named_modules() names it.
func (m *Model) Module(name string) (nn.Module, bool) {
	for _, nm := range m.modules {
		if nm.Name == name {
			return nm.Module, true
		}
	}
	return nil, false
}

// Params returns the parameters in state-dict order, named as in the
// checkpoint; a tied weight appears once, under its first owner. The parts
// of an entry the model holds as several parameters (Llama 4's fused
// experts) stand where the entry stands, each named after it
// ("…experts.gate_up_proj[2].up", "…experts.down_proj[2]").
func (m *Model) Params() []*nn.Param { return m.params }

// ParamShape returns the shape a parameter has, by checkpoint name (tied
// aliases such as "lm_head.weight" included, and the fused entries held as
// several parameters, such as Llama 4's "…experts.gate_up_proj"), and false
// for unknown names.
func (m *Model) ParamShape(name string) ([]int, bool) {
	if s, ok := m.shapes[name]; ok {
		return s, true
	}
	if p, ok := m.aliases[name]; ok {
		return m.shapes[p.Name], true
	}
	if f := m.fusedByName(name); f != nil {
		return f.shape, true
	}
	return nil, false
}

// OutputLayer returns the module name of the output head, which PEFT's
// "all-linear" target excludes together with every module under it:
// "lm_head", or "classifier" for sequence classification (BERT's Linear,
// RoBERTa's RobertaClassificationHead with dense and out_proj), or "" for a
// bare encoder.
func (m *Model) OutputLayer() string { return m.arch.outputLayer() }

// Free releases every parameter's storage.
func (m *Model) Free() {
	if m.b == nil {
		return
	}
	for _, p := range m.params {
		if p.T != nil {
			m.b.Free(p.T)
			p.T = nil
		}
	}
}
