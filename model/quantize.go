package model

import (
	"fmt"
	"log/slog"
	"regexp"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// inBlock matches module names inside a transformer block: transformers
// keeps blocks in a ModuleList, so their names carry an index
// ("transformer.h.3.attn.c_attn", "model.layers.0.mlp.up_proj",
// "encoder.block.1.layer.0.SelfAttention.q").
var inBlock = regexp.MustCompile(`\.\d+\.`)

// quantizable returns the Linear layers whose weights a base quantized in
// f keeps quantized, by weight parameter, following bitsandbytes'
// load_in_8bit/4bit: every Linear or Conv1D inside the transformer blocks
// whose input features are a multiple of f's block size, and whose weight
// no other module shares. Llama 4's routed experts (innerLinears) are
// quantized too, where bitsandbytes, which replaces nn.Linear modules
// only, leaves Llama4TextExperts' fused parameters in the model's dtype:
// they are nearly all of the model's weights, and --quantize exists to
// make it fit (docs/architectures.md, Llama 4). Embeddings, the LM head and any other head, norms
// and biases stay as loaded; a layer whose input features do not divide is
// logged at debug level and stays too.
func (m *Model) quantizable(f quant.Format) map[*nn.Param]*nn.Linear {
	if f == quant.None {
		return nil
	}
	owners := map[*nn.Param]int{}
	for _, nm := range m.modules {
		for _, p := range nm.Module.Params() {
			if p != nil {
				owners[p]++
			}
		}
	}
	out := map[*nn.Param]*nn.Linear{}
	for _, nm := range m.modules {
		for _, l := range blockLinears(nm.Module) {
			if l.Weight == nil || !inBlock.MatchString(nm.Name) || owners[l.Weight] != 1 || l.Weight.Trainable {
				continue
			}
			if !f.Fits(l.Out, l.In) {
				slog.Debug("weight stays unquantized: input features not a multiple of the block size",
					"module", nm.Name, "weight", l.Weight.Name, "in", l.In, "block", f.BlockSize(), "format", f)
				continue
			}
			out[l.Weight] = l
		}
	}
	return out
}

// innerLinears is a module that runs Linear layers the module tree does
// not list: Llama 4's Llama4TextExperts, one Linear per expert and
// projection. PEFT sees no module there (no adapter targets them), but
// storage treats them as the block weights they are: quantized by
// LoadOptions.Quantize, half precision as loaded.
type innerLinears interface {
	linears() []*nn.Linear
}

// blockLinears returns the Linear layers module mod runs: itself when it
// is one, its inner Linears (innerLinears), else none.
func blockLinears(mod nn.Module) []*nn.Linear {
	switch x := mod.(type) {
	case *nn.Linear:
		return []*nn.Linear{x}
	case innerLinears:
		return x.linears()
	}
	return nil
}

// checkQuantizable refuses quantization on a device that does not take
// quantized weights.
func checkQuantizable(b backend.Backend, f quant.Format) error {
	if f == quant.None {
		return nil
	}
	if _, ok := backend.QuantDType(f); !ok {
		return fmt.Errorf("quantize: unknown format %v", f)
	}
	if info := b.Info(); !info.QuantizedWeights {
		return fmt.Errorf("quantize %v: device %s (%s) does not take quantized weights (the CPU backend does: --device cpu)", f, info.Spec, info.Name)
	}
	return nil
}

// quantizeValues uploads a layer's weight v, given as its checkpoint stores
// it ((in, out) for a Conv1D), quantized in f along the input features. A
// Conv1D weight is transposed to (out, in) first and the layer marked
// Transposed with FanInFanOut cleared.
func (m *Model) quantizeValues(l *nn.Linear, v []float32, f quant.Format) (backend.Tensor, error) {
	if l.FanInFanOut {
		v = transpose(v, l.In, l.Out)
	}
	raw, err := quant.Quantize(f, v, l.Out, l.In)
	if err != nil {
		return nil, err
	}
	dt, _ := backend.QuantDType(f)
	t, err := m.b.FromBytes(dt, raw, l.Out, l.In)
	if err != nil {
		return nil, err
	}
	if l.FanInFanOut {
		l.FanInFanOut, l.Transposed = false, true
	}
	return t, nil
}

// loadQuantized reads a checkpoint entry as float32 (widening F16/BF16,
// rounding F64) and uploads it quantized, so the float weight never reaches
// the device.
func (m *Model) loadQuantized(r *safetensors.Checkpoint, name string, shape []int, l *nn.Linear, f quant.Format) (backend.Tensor, error) {
	info, _ := r.Info(name)
	if err := checkShape(r, name, info.Shape, shape); err != nil {
		return nil, err
	}
	v, err := r.Float32(name)
	if err != nil {
		return nil, err // names the file and tensor
	}
	t, err := m.quantizeValues(l, v, f)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", r.FileOf(name), name, err)
	}
	m.dtypes[m.canonical(name)] = info.DType
	return t, nil
}

// Quantize converts the model's eligible weights (see LoadOptions.Quantize)
// to f in place, freeing the float storage of each once its quantized copy
// exists: for a model built otherwise than by LoadWith (NewRandom, a
// benchmark). Loading with LoadOptions.Quantize is cheaper: it never holds
// the float weights on the device. Weights already quantized are left.
func (m *Model) Quantize(f quant.Format) error {
	if m.b == nil {
		return fmt.Errorf("model.Quantize: structure-only model has no weights")
	}
	if err := checkQuantizable(m.b, f); err != nil {
		return fmt.Errorf("model.Quantize: %w", err)
	}
	for p, l := range m.quantizable(f) {
		if p.T == nil || p.T.DType().IsQuantized() {
			continue
		}
		v, err := m.b.ToFloat32(p.T)
		if err != nil {
			return fmt.Errorf("model.Quantize: %s: %w", p.Name, err)
		}
		t, err := m.quantizeValues(l, v, f)
		if err != nil {
			return fmt.Errorf("model.Quantize: %s: %w", p.Name, err)
		}
		m.b.Free(p.T)
		p.T = t
	}
	m.quant = f
	return nil
}

// ProjBytesPerWeight returns the bytes one block projection weight takes
// stored in f, for PlanOptions.ProjBytesPerWeight (BytesPerWeightQ8_0,
// BytesPerWeightNF4), and 0 (the plan's default: as the other weights) for
// quant.None.
func ProjBytesPerWeight(f quant.Format) float64 {
	switch f {
	case quant.Q8_0:
		return BytesPerWeightQ8_0
	case quant.NF4:
		return BytesPerWeightNF4
	}
	return 0
}

// Quantized returns the format the model's block weights are stored in,
// quant.None for a float model.
func (m *Model) Quantized() quant.Format { return m.quant }

// transposedWeights returns the weights held (out, in) for Conv1D layers
// whose checkpoint stores them (in, out).
func (m *Model) transposedWeights() map[*nn.Param]*nn.Linear {
	out := map[*nn.Param]*nn.Linear{}
	for _, nm := range m.modules {
		if l, ok := nm.Module.(*nn.Linear); ok && l.Transposed && l.Weight != nil {
			out[l.Weight] = l
		}
	}
	return out
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// WeightBytes returns the bytes the model's parameters occupy on a device
// when stored as o says (RandomOptions; LoadOptions.Quantize makes the
// same choice for a checkpoint, and a BF16 checkpoint loads as BF16 does):
// quantized block weights at their storage bytes, half-precision weights
// at 2 bytes, everything else at float32's 4. It works on a structure-only
// model (New with a nil backend), so a plan needs no allocation; a tied
// weight counts once.
func (m *Model) WeightBytes(o RandomOptions) (int64, error) {
	quantized := m.quantizable(o.Quantize)
	var half map[*nn.Param]bool
	if o.BF16 {
		half = m.halfCapable()
	}
	dt, _ := backend.QuantDType(o.Quantize)
	var total int64
	for _, p := range m.params {
		shape := m.shapes[p.Name]
		n := int64(1)
		for _, d := range shape {
			n *= int64(d)
		}
		switch l := quantized[p]; {
		case l != nil:
			b, err := backend.StorageBytes(dt, l.Out, l.In)
			if err != nil {
				return 0, fmt.Errorf("model.WeightBytes: %s: %w", p.Name, err)
			}
			total += int64(b)
		case half[p]:
			total += 2 * n
		default:
			total += 4 * n
		}
	}
	return total, nil
}
