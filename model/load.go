package model

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/internal/textlist"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/model/torchbin"
	"github.com/ia3/ia3/quant"
)

// basePrefix is each family's base_model_prefix: a checkpoint of the bare
// base model names its tensors without it, one of a task model with it.
var basePrefix = map[string]string{
	"gpt2": "transformer", "llama": "model", "mistral": "model", "qwen2": "model",
	"bert": "bert", "roberta": "roberta",
	"deberta": "deberta", "deberta-v2": "deberta",
	"qwen3": "model", "gemma": "model", "gemma2": "model", "gemma3_text": "model", "phi3": "model", "mixtral": "model",
	"phi": "model", "opt": "model", "gpt_neox": "gpt_neox", "gptj": "transformer", "gpt_neo": "transformer",
	"bloom": "transformer", "gpt_bigcode": "transformer", "falcon": "transformer",
	"llama4_text": "language_model", // Llama4ForCausalLM's base_model_prefix
}

// ignoredTensors matches checkpoint entries transformers drops on load
// (buffers older versions saved: GPT-2's and GPT-Neo's causal masks,
// rotary frequencies, BERT's position ids; and DeBERTa's
// position_embeddings where position_biased_input is off, which its
// _keys_to_ignore_on_load_unexpected lists).
var ignoredTensors = regexp.MustCompile(`(^|\.)attn\.(attention\.)?(bias|masked_bias)$|rotary_emb\.inv_freq$|embeddings\.position_ids$|^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$` +
	`|^(deberta\.)?embeddings\.position_embeddings\.weight$`)

// Load reads a Hugging Face checkpoint directory, or a llama.cpp GGUF file
// (a path ending in .gguf; see package gguf and docs/gguf.md: its
// quantised tensors are dequantised to F32 here): config.json and
// model.safetensors (or a sharded model.safetensors.index.json), or,
// where the directory has no safetensors weights, torch.save's
// pytorch_model.bin (or pytorch_model.bin.index.json) read by a restricted
// unpickler that runs no code (see OpenWeights). Weights
// stay in their stored dtype (F32, F16 or BF16; F64 is rounded to F32).
// Tied weights absent from the file (lm_head.weight, T5's embed_tokens)
// share their source; a missing or unexpected tensor or a shape mismatch is
// an error naming the file and tensor.
func Load(ctx context.Context, dir string, b backend.Backend) (*Model, error) {
	return LoadWith(ctx, dir, b, LoadOptions{})
}

// LoadOptions changes what LoadWith builds from a checkpoint.
type LoadOptions struct {
	// Architecture, when set and different from config.json's, builds that
	// class from the checkpoint as transformers' AutoModelFor….from_pretrained
	// does: a BertForSequenceClassification from a BertForMaskedLM
	// checkpoint, say. Parameters the checkpoint lacks (the new head) are
	// initialised randomly and tensors the class does not use (the old
	// head) are skipped, both logged. Without it loading is strict.
	Architecture string
	// NumLabels, when positive and different from config.json's, sizes a
	// new sequence classification head (id2label is rewritten to
	// LABEL_0…; a head of another size in the checkpoint is replaced, as
	// ignore_mismatched_sizes does).
	NumLabels int
	// Seed drives the initialisation of parameters the checkpoint lacks.
	Seed uint64
	// Quantize, when not quant.None, stores the frozen weights of the
	// Linear and Conv1D layers inside the transformer blocks in that format
	// (Q8_0 for --quantize int8, NF4 for nf4), as bitsandbytes'
	// load_in_8bit/4bit does: embeddings, heads, norms and biases stay as
	// loaded, and so does a layer whose input features are not a multiple
	// of the block size. Each weight is quantized on the host as it is read,
	// so the float weights never reach the device; Conv1D weights are
	// transposed to (out, in) first. The device must report
	// QuantizedWeights. See docs/quantization.md.
	Quantize quant.Format
}

// LoadWith is Load with options; see LoadOptions.
func LoadWith(ctx context.Context, dir string, b backend.Backend, o LoadOptions) (*Model, error) {
	if b == nil {
		return nil, fmt.Errorf("load %s: nil backend", dir)
	}
	if err := checkQuantizable(b, o.Quantize); err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	cfg, ck, err := openModel(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	defer ck.Close()
	strict := (o.Architecture == "" || o.Architecture == cfg.Architecture) &&
		(o.NumLabels <= 0 || o.NumLabels == cfg.NumLabels)
	if !strict {
		if cfg, err = cfg.with(o.Architecture, o.NumLabels); err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
	}
	m, err := build(cfg, b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	quantized := m.quantizable(o.Quantize)
	m.quant = o.Quantize
	src, fused, err := m.resolveNames(ck, strict)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	half := m.halfCapable()
	init := m.initializer(o.Seed)
	experts := &expertLoader{m: m, r: ck, cache: map[string][]byte{}}
	err = m.fill(func(p *nn.Param, shape []int) (backend.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s, ok := fused[p]; ok {
			return experts.load(p, s, shape, half[p], quantized[p])
		}
		name, ok := src[p]
		if info, _ := ck.Info(name); ok && !strict && !slices.Equal(info.Shape, shape) {
			slog.Warn("checkpoint tensor of another shape is newly initialised", "file", ck.FileOf(name),
				"tensor", name, "shape", info.Shape, "want", shape)
			ok = false
		}
		if !ok {
			return b.FromFloat32(init(p, shape), shape...)
		}
		if l := quantized[p]; l != nil {
			return m.loadQuantized(ck, name, shape, l, o.Quantize)
		}
		return m.loadTensor(ck, name, shape, half[p])
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	slog.Debug("model loaded", "dir", dir, "model_type", cfg.ModelType, "architecture", cfg.Architecture,
		"params", len(m.params), "device", b.Info().Name, "quantized", o.Quantize)
	return m, nil
}

// OpenWeights opens the weights of the checkpoint in dir, preferring
// safetensors as transformers does: model.safetensors.index.json or
// model.safetensors when either exists, else pytorch_model.bin.index.json
// or pytorch_model.bin (torch.save's format, see package torchbin). A
// directory with none of them is an error naming all four, wrapping
// fs.ErrNotExist.
func OpenWeights(dir string) (*safetensors.Checkpoint, error) {
	present := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return !errors.Is(err, fs.ErrNotExist) // other errors are reported by the open
	}
	if present(safetensors.IndexFileName) || present(safetensors.SingleFileName) {
		return safetensors.OpenDir(dir)
	}
	for _, name := range []string{torchbin.IndexFileName, torchbin.SingleFileName} {
		if present(name) {
			slog.Debug("no safetensors weights; reading torch.save checkpoint", "dir", dir, "file", name)
			return torchbin.OpenDir(dir)
		}
	}
	return nil, fmt.Errorf("checkpoint %s has no weights: none of %s, %s, %s, %s: %w", dir,
		safetensors.IndexFileName, safetensors.SingleFileName, torchbin.IndexFileName, torchbin.SingleFileName, fs.ErrNotExist)
}

// resolveNames maps every parameter to the checkpoint entry holding it,
// accepting names with or without the base model prefix and tied aliases.
// Strict, it rejects missing parameters and entries nothing uses; else it
// logs them (the missing ones are left out of the map for initialisation).
//
// A Mixtral checkpoint in transformers 5's layout (fused experts) maps
// each expert weight to its slice of a fused tensor instead (the second
// map; see fusedExperts).
func (m *Model) resolveNames(r *safetensors.Checkpoint, strict bool) (map[*nn.Param]string, map[*nn.Param]expertSlice, error) {
	inFile := map[string]bool{}
	for _, n := range r.Names() {
		inFile[n] = true
	}
	used := map[string]bool{}
	find := func(name string) (string, bool) {
		for _, cand := range m.nameVariants(name) {
			if inFile[cand] {
				return cand, true
			}
		}
		return "", false
	}
	src := map[*nn.Param]string{}
	for _, p := range m.params {
		if n, ok := find(p.Name); ok {
			src[p] = n
			used[n] = true
		}
	}
	// Tied aliases: mark as used when present, or stand in for a missing
	// canonical entry (a file that stores lm_head.weight but not the table).
	for _, alias := range slices.Sorted(maps.Keys(m.aliases)) {
		p := m.aliases[alias]
		n, ok := find(alias)
		if !ok {
			continue
		}
		used[n] = true
		if _, have := src[p]; !have {
			src[p] = n
		}
	}
	fused, err := m.fusedExperts(r, src, find, used)
	if err != nil {
		return nil, nil, err
	}
	var missing, unused []string
	parts := m.fusedOf()
	for _, p := range m.params {
		_, isFused := fused[p]
		if _, ok := src[p]; !ok && !isFused {
			name := p.Name
			if f := parts[p]; f != nil {
				name = f.name // the entry the part is cut from
			}
			if strict {
				return nil, nil, fmt.Errorf("%s: missing tensor %q (%s expects it)", r.Path(), name, m.cfg.Architecture)
			}
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
	}
	skipped := 0 // Llama 4's vision tower (llama4.go)
	for _, n := range r.Names() {
		if !used[n] && m.llama4SkippedTensor(n) {
			skipped++
			continue
		}
		if !used[n] && !ignoredTensors.MatchString(n) {
			if strict {
				return nil, nil, fmt.Errorf("%s: unexpected tensor %q (%s has no such parameter)", r.FileOf(n), n, m.cfg.Architecture)
			}
			unused = append(unused, n)
		}
	}
	if skipped > 0 {
		logLlama4Skipped(r.Path(), skipped)
	}
	if len(missing) > 0 {
		slog.Warn("parameters not in the checkpoint are newly initialised", "file", r.Path(),
			"architecture", m.cfg.Architecture, "count", len(missing), "params", textlist.Join(missing, ", "))
	}
	if len(unused) > 0 {
		slog.Warn("checkpoint tensors the architecture does not use are skipped", "file", r.Path(),
			"architecture", m.cfg.Architecture, "count", len(unused), "tensors", textlist.Join(unused, ", "))
	}
	return src, fused, nil
}

// nameVariants lists the names a parameter may have in a checkpoint: its
// own, then without or with the base model prefix. Mixtral's router
// block_sparse_moe.gate is also looked up as transformers 5's mlp.gate.
func (m *Model) nameVariants(name string) []string {
	names := []string{name}
	if m.cfg.NumExperts > 0 {
		if v := strings.Replace(name, ".block_sparse_moe.gate.", ".mlp.gate.", 1); v != name {
			names = append(names, v)
		}
	}
	var out []string
	for _, n := range names {
		out = append(out, n)
		if pre := basePrefix[m.cfg.ModelType]; pre != "" {
			if rest, ok := strings.CutPrefix(n, pre+"."); ok {
				out = append(out, rest)
			} else {
				out = append(out, pre+"."+n)
			}
		}
	}
	return out
}

// halfCapable returns the parameters the backend accepts in F16/BF16
// storage: Linear weights (MatMul/Linear operands, Llama 4's experts'
// ExpertLinear weights) and embedding tables (Gather). Norm weights and biases are widened to F32 on load.
func (m *Model) halfCapable() map[*nn.Param]bool {
	out := map[*nn.Param]bool{}
	for _, nm := range m.modules {
		if e, ok := nm.Module.(*nn.Embedding); ok {
			out[e.Weight] = true
		}
		for _, l := range blockLinears(nm.Module) {
			out[l.Weight] = true
		}
	}
	return out
}

// loadTensor uploads one checkpoint entry after checking its shape. F16
// and BF16 entries stay half-precision when half is set, else are widened;
// either way Save writes them back in their stored dtype.
func (m *Model) loadTensor(r *safetensors.Checkpoint, name string, shape []int, half bool) (backend.Tensor, error) {
	where := r.FileOf(name)
	info, _ := r.Info(name)
	if err := checkShape(r, name, info.Shape, shape); err != nil {
		return nil, err
	}
	var dt backend.DType
	switch info.DType {
	case safetensors.F32:
		dt = backend.F32
	case safetensors.F16, safetensors.BF16:
		dt = backend.F16
		if info.DType == safetensors.BF16 {
			dt = backend.BF16
		}
		if !half {
			v, err := r.Float32(name)
			if err != nil {
				return nil, err // names the file and tensor
			}
			m.dtypes[m.canonical(name)] = info.DType
			return m.b.FromFloat32(v, shape...)
		}
	case safetensors.F64:
		v, err := r.Float32(name)
		if err != nil {
			return nil, err
		}
		return m.b.FromFloat32(v, shape...)
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", where, name, info.DType)
	}
	raw, err := r.Bytes(name)
	if err != nil {
		return nil, err
	}
	t, err := m.b.FromBytes(dt, raw, shape...)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", where, name, err)
	}
	m.dtypes[m.canonical(name)] = info.DType
	return t, nil
}

// canonical maps a checkpoint entry name to the parameter name it loads.
func (m *Model) canonical(name string) string {
	if _, ok := m.shapes[name]; ok {
		return name
	}
	if m.cfg.NumExperts > 0 {
		name = strings.Replace(name, ".mlp.gate.", ".block_sparse_moe.gate.", 1)
	}
	for _, v := range m.nameVariants(name) {
		if _, ok := m.shapes[v]; ok {
			return v
		}
		if p, ok := m.aliases[v]; ok {
			return p.Name
		}
	}
	return name
}

// checkShape requires a checkpoint entry to have the shape the model
// expects.
func checkShape(r *safetensors.Checkpoint, name string, have, want []int) error {
	if !slices.Equal(have, want) {
		return fmt.Errorf("%s: tensor %q has shape %v, the model expects %v", r.FileOf(name), name, have, want)
	}
	return nil
}
